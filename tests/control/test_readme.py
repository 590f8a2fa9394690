"""The README's pytest example is executed exactly as written, as a user's test run would."""

from __future__ import annotations

import re
from pathlib import Path

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- readme-example -->\s*```python\n(.*?)```\s*<!-- /readme-example -->", text, re.S)
    assert match, "the README lost its marked pytest example"
    return match.group(1)


def test_the_readme_example_passes(pytester):
    pytester.makepyfile(test_doorbell=readme_example())
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
