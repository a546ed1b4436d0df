import pytest

# The page checks in a11y.py assert; rewrite them so that failures show the values.
pytest.register_assert_rewrite("tests.browser.a11y")
