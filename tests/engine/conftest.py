"""Engine tests work on committed data in their own SQLite file (`p3_url`), never :memory:."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from engine.db import make_engine, make_session_factory


@pytest.fixture
def session(p3_url) -> Session:
    engine = make_engine(p3_url)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()
