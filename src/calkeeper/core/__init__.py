"""The licensing rules, free of any framework: identities, LEFs, CAL types, the allocation order."""
