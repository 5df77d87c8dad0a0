"""The site's directory as an LDAP server or Active Directory (``ldap_directory``), through ldap3.

The built-in directory keeps its users in the site's database, so it lives with the use cases
(``calkeeper.usecases.builtin_directory``); both keep the core's ``Directory`` port.
"""
