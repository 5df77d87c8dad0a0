"""The built-in directory's users and groups, and the group rules with the CALs each rule gave."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from calkeeper.core.directory import DirectoryEntry
from calkeeper.infra.database import table_of
from calkeeper.store.schema import DirectoryGroup, DirectoryMember, DirectoryUser, Document, GroupRule, GroupRuleCal

users_t = table_of(DirectoryUser)
groups_t = table_of(DirectoryGroup)
members_t = table_of(DirectoryMember)
rules_t = table_of(GroupRule)
rule_cals_t = table_of(GroupRuleCal)
documents_t = table_of(Document)


@dataclass(frozen=True)
class BuiltinUser:
    """A built-in directory user as stored, with the password hash a sign-in is checked against."""

    name: str
    display_name: str
    password_hash: str | None
    groups: list[str]


@dataclass(frozen=True)
class ImportedUser:
    name: str
    display_name: str
    password_hash: str | None
    groups: list[str]


@dataclass(frozen=True)
class RuleRecord:
    id: int
    group: str
    cal_type: str
    document_id: int | None
    document: str | None
    created_at: datetime
    created_by: str
    holders: int


class BuiltinDirectoryRecords:
    """The built-in directory: users (keyed by their case-folded name), groups and memberships."""

    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def save_users(self, users: list[ImportedUser]) -> tuple[int, int]:
        """Add new users and replace existing ones (display name, password, groups); (added, replaced)."""
        keys = [u.name.casefold() for u in users]
        existing = set(self.connection.execute(select(users_t.c.key).where(users_t.c.key.in_(keys))).scalars())
        if existing:
            self.connection.execute(delete(members_t).where(members_t.c.user_key.in_(existing)))
            self.connection.execute(delete(users_t).where(users_t.c.key.in_(existing)))
        self.connection.execute(insert(users_t), [
            {"key": u.name.casefold(), "name": u.name, "display_name": u.display_name,
             "password_hash": u.password_hash, "created_at": self.now} for u in users])
        groups = {g.casefold(): g for u in users for g in u.groups}
        known = set(self.connection.execute(select(groups_t.c.key).where(groups_t.c.key.in_(list(groups)))).scalars())
        new_groups = [{"key": k, "name": n} for k, n in groups.items() if k not in known]
        if new_groups:
            self.connection.execute(insert(groups_t), new_groups)
        memberships = [{"group_key": g, "user_key": u.name.casefold()} for u in users
                       for g in dict.fromkeys(x.casefold() for x in u.groups)]
        if memberships:
            self.connection.execute(insert(members_t), memberships)
        return len(users) - len(existing), len(existing)

    def find(self, name: str) -> BuiltinUser | None:
        key = name.strip().casefold()
        row = self.connection.execute(select(users_t).where(users_t.c.key == key)).mappings().first()
        if row is None:
            return None
        groups = list(self.connection.execute(
            select(groups_t.c.name).join(members_t, members_t.c.group_key == groups_t.c.key)
            .where(members_t.c.user_key == key).order_by(groups_t.c.key)).scalars())
        return BuiltinUser(row["name"], row["display_name"], row["password_hash"], groups)

    def search_users(self, text: str, *, limit: int) -> list[DirectoryEntry]:
        query = select(users_t.c.key, users_t.c.name, users_t.c.display_name).order_by(users_t.c.key).limit(limit)
        if text:
            folded = text.casefold()
            query = query.where(users_t.c.key.contains(folded, autoescape=True)
                                | func.lower(users_t.c.display_name).contains(folded, autoescape=True))
        return [DirectoryEntry("user", name, display, key) for key, name, display in self.connection.execute(query)]

    def search_groups(self, text: str, *, limit: int) -> list[DirectoryEntry]:
        count = (select(func.count()).select_from(members_t).where(members_t.c.group_key == groups_t.c.key)
                 .scalar_subquery())
        query = select(groups_t.c.key, groups_t.c.name, count).order_by(groups_t.c.key).limit(limit)
        if text:
            query = query.where(groups_t.c.key.contains(text.casefold(), autoescape=True))
        return [DirectoryEntry("group", name, name, key, members=int(n))
                for key, name, n in self.connection.execute(query)]

    def group(self, name: str) -> str | None:
        """A group's name as stored, or None when the built-in directory has no such group."""
        found = self.connection.execute(select(groups_t.c.name).where(groups_t.c.key == name.strip().casefold()))
        value = found.scalar()
        return str(value) if value is not None else None

    def members(self, group: str) -> list[DirectoryEntry]:
        query = (select(users_t.c.key, users_t.c.name, users_t.c.display_name)
                 .join(members_t, members_t.c.user_key == users_t.c.key)
                 .where(members_t.c.group_key == group.strip().casefold()).order_by(users_t.c.key))
        return [DirectoryEntry("user", name, display, key) for key, name, display in self.connection.execute(query)]

    def counts(self) -> tuple[int, int]:
        users = self.connection.execute(select(func.count()).select_from(users_t)).scalar_one()
        groups = self.connection.execute(select(func.count()).select_from(groups_t)).scalar_one()
        return int(users), int(groups)


class GroupRules:
    """Group rules, and which member holds a CAL because of which rule."""

    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def add(self, *, group: str, cal_type: str, document_id: int | None, actor: str) -> int:
        result = self.connection.execute(insert(rules_t).values(
            group_name=group, group_key=group.casefold(), cal_type=cal_type, document_id=document_id,
            created_at=self.now, created_by=actor))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def find(self, *, group: str, cal_type: str, document_id: int | None) -> int | None:
        query = select(rules_t.c.id).where(rules_t.c.group_key == group.casefold(), rules_t.c.cal_type == cal_type)
        query = query.where(rules_t.c.document_id.is_(None) if document_id is None
                            else rules_t.c.document_id == document_id)
        found = self.connection.execute(query).scalar()
        return int(found) if found is not None else None

    def all(self) -> list[RuleRecord]:
        holders = (select(func.count()).select_from(rule_cals_t).where(rule_cals_t.c.rule_id == rules_t.c.id)
                   .scalar_subquery())
        query = (select(rules_t, documents_t.c.path, holders.label("holders"))
                 .outerjoin(documents_t, documents_t.c.id == rules_t.c.document_id).order_by(rules_t.c.id))
        return [RuleRecord(r["id"], r["group_name"], r["cal_type"], r["document_id"], r["path"], r["created_at"],
                           r["created_by"], int(r["holders"])) for r in self.connection.execute(query).mappings()]

    def get(self, rule_id: int) -> RuleRecord | None:
        return next((r for r in self.all() if r.id == rule_id), None)

    def remove(self, rule_id: int) -> None:
        self.connection.execute(delete(rule_cals_t).where(rule_cals_t.c.rule_id == rule_id))
        self.connection.execute(delete(rules_t).where(rules_t.c.id == rule_id))

    def holders(self, rule_id: int) -> dict[str, str]:
        """The members a rule gave a CAL: name by case-folded key."""
        rows = self.connection.execute(select(rule_cals_t.c.user_key, rule_cals_t.c.user_name)
                                       .where(rule_cals_t.c.rule_id == rule_id))
        return {key: name for key, name in rows}

    def hold(self, rule_id: int, user_name: str) -> None:
        self.connection.execute(insert(rule_cals_t).values(rule_id=rule_id, user_key=user_name.casefold(),
                                                           user_name=user_name, assigned_at=self.now))

    def release(self, rule_id: int, user_name: str) -> None:
        self.connection.execute(delete(rule_cals_t).where(rule_cals_t.c.rule_id == rule_id,
                                                          rule_cals_t.c.user_key == user_name.casefold()))
