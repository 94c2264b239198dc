"""Shared fixtures: the project is imported first so TF_USE_LEGACY_KERAS=1 takes effect."""
from __future__ import annotations

from pathlib import Path

import compleak_tf  # noqa: F401  (must precede any TensorFlow import)
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
AG_NEWS_CSV = REPO_ROOT.parent / "shared" / "data" / "ag_news_test.csv"


@pytest.fixture(scope="session")
def ag_news_csv() -> Path:
    """The AG News articles kept beside the repository; skips with the path when missing."""
    if not AG_NEWS_CSV.is_file():
        pytest.skip(f"AG News CSV not found at {AG_NEWS_CSV}; text tests need it there")
    return AG_NEWS_CSV
