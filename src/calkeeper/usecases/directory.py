"""The site's directory for admins: test it, search its users and groups, assign CALs to a group once.

The directory (the core's ``Directory`` port: built in, LDAP or Active Directory) is asked before the
transaction opens, so no database transaction waits on the network; the access gate never asks it.
"""

from __future__ import annotations

from calkeeper.contract.views import GroupAssignment, MemberOutcome
from calkeeper.core.directory import (
    Directory,
    DirectoryCheck,
    DirectoryEntry,
    search_kind,
    search_limit,
    search_text,
)
from calkeeper.core.errors import InvalidInput, NoCalAvailable, NoLicense
from calkeeper.core.identities import parse_user
from calkeeper.store.unit_of_work import Transaction
from calkeeper.usecases.admin import AdminTransactions, audit_freed
from calkeeper.usecases.documents import Documents
from calkeeper.usecases.group_cals import CalTarget, give_cal
from calkeeper.usecases.named_cals import identity_kind


def cal_target(tx: Transaction, documents: Documents, document: str | None, actor: str) -> CalTarget:
    """A Named CAL (no document), or a Document CAL for the document named."""
    if document is None or not document.strip():
        if identity_kind(tx) == "machine":
            raise InvalidInput("Named CALs identify by machine name on this server: a directory group's users "
                               "cannot be given Named CALs (switch identification to user names first)")
        return CalTarget("named")
    return CalTarget("document", documents.resolve(tx, document, actor=actor))


class DirectoryAdmin:
    """What an admin asks of the site's directory."""

    def __init__(self, *, directory: Directory, admin: AdminTransactions, documents: Documents) -> None:
        self.directory = directory
        self.admin = admin
        self.documents = documents

    def check(self) -> DirectoryCheck:
        """Connect, bind and search; raise DirectoryUnavailable saying in plain words what is wrong."""
        return self.directory.check()

    def search(self, text: str, *, kind: str = "user", limit: int = 50) -> list[DirectoryEntry]:
        """Users (or groups, with their member counts) whose name contains the text; at most ``limit``."""
        return self.directory.search(search_text(text), kind=search_kind(kind), limit=search_limit(limit))

    def assign_group(self, group: str, *, document: str | None = None, all_or_nothing: bool = False,
                     actor: str | None = None) -> GroupAssignment:
        """Give every current member of a group a Named CAL (or a Document CAL for ``document``), once.

        As far as CALs last, member by member; with ``all_or_nothing``, nobody gets one unless all do.
        Members whose directory name is not a valid user name are skipped, and said so.
        """
        actor = self.admin.actor(actor)
        members = self.directory.members(group)
        with self.admin.change() as tx:
            terms = tx.licenses.terms()
            if terms is None:
                raise NoLicense("no license is in force: apply the server license before assigning CALs")
            target = cal_target(tx, self.documents, document, actor)
            outcomes = []
            for member in members:
                identity = parse_user(member.name)
                outcomes.append(MemberOutcome(identity.name, give_cal(tx, identity, target, terms, actor=actor,
                                                                      source=f"group:{group.strip()}")))
            short = [o.user for o in outcomes if o.outcome == "no CAL left"]
            if short and all_or_nothing:
                raise NoCalAvailable(
                    f"the group '{group.strip()}' has {len(members)} members and {len(short)} of them would get no "
                    f"{target.label}; nothing was assigned (all or nothing)",
                    details={"members": len(members), "short": len(short)})
            assigned = sum(1 for o in outcomes if o.outcome in ("assigned", "restored"))
            tx.history.audit(actor, "directory.group_assigned", group.strip(), cal=target.cal_type,
                             **target.details(), members=len(members), assigned=assigned, no_cal_left=len(short))
            audit_freed(tx)
        return GroupAssignment(group.strip(), target.cal_type, target.document.path if target.document else None,
                               len(members), assigned, outcomes)
