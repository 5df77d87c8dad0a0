from alembic.script import ScriptDirectory

from calkeeper.store.engine import HEAD_REVISION, alembic_config


def test_the_quick_migration_check_knows_the_newest_migration():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_current_head() == HEAD_REVISION
