"""Fixtures of the LTI tests (``tests.web.lti.support``)."""

from tests.web.lti.support import lti_app, platform  # noqa: F401 - fixtures
