"""``host_example/`` is a host project's own test suite, run by ``test_pytest_plugin.py`` in a
directory of its own: collected here, its ``app`` fixture would meet this suite's."""

collect_ignore = ["host_example"]
