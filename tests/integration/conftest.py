import pytest


@pytest.fixture(params=["postgresql", "sqlite"])
def db_uris(request):
    """Each integration test runs on PostgreSQL and on SQLite, the two supported stores."""
    fixture = "pg_db_uris" if request.param == "postgresql" else "sqlite_db_uris"
    return request.getfixturevalue(fixture)
