"""pytest fixtures for the pynsq compatibility suite: owns the `nsqd` / `nsqd_factory`
fixtures (one fresh nsqd per test from $NSQD_BIN, extra args via
@pytest.mark.nsqd_args(...)), the per-test tornado `io_loop` fixture, and attaching
nsqd's stderr to the report of any failed test.
"""

import os
import sys
import warnings

import pytest
import tornado.ioloop

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from nsqd_harness import Nsqd, NsqdError, nsqd_bin_from_env  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "nsqd_args(*args): extra command line arguments for the test's nsqd"
    )


@pytest.fixture(scope="session")
def nsqd_bin():
    path, err = nsqd_bin_from_env()
    if err:
        pytest.fail(err, pytrace=False)
    return path


@pytest.fixture
def nsqd_factory(nsqd_bin, tmp_path, request):
    """Returns start(*extra_args) -> running Nsqd; all are stopped at teardown."""
    procs = []
    request.node._nsqd_procs = procs

    def start(*extra_args):
        data = tmp_path / ("nsqd-data-%d" % len(procs))
        data.mkdir()
        n = Nsqd(nsqd_bin, str(data), extra_args)
        procs.append(n)
        try:
            return n.start()
        except NsqdError as e:
            pytest.fail(str(e), pytrace=False)

    yield start

    crashed = []
    for n in procs:
        n.stop()
        if n.exited_before_stop:
            if n.ready:  # start() failures were already reported with the output
                crashed.append("nsqd exited by itself during the test (code %r):\n%s"
                               % (n.exit_code, n.output(60)))
        elif n.killed:
            warnings.warn("nsqd did not exit within 10s of SIGTERM and was killed")
        elif n.exit_code != 0:
            warnings.warn("nsqd exited with code %r after SIGTERM" % n.exit_code)
    if crashed:
        pytest.fail("\n".join(crashed), pytrace=False)


@pytest.fixture
def nsqd(nsqd_factory, request):
    """A running nsqd; extra args from @pytest.mark.nsqd_args("--flag=value", ...)."""
    args = []
    for mark in request.node.iter_markers("nsqd_args"):
        args.extend(mark.args)
    return nsqd_factory(*args)


@pytest.fixture
def io_loop():
    """A fresh tornado IOLoop made current for the test (pynsq binds to IOLoop.current())."""
    loop = tornado.ioloop.IOLoop()
    loop.make_current()
    yield loop
    loop.clear_current()
    loop.close(all_fds=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for i, n in enumerate(getattr(item, "_nsqd_procs", [])):
            report.sections.append(
                ("nsqd #%d stderr (%s, %s)" % (i, report.when, " ".join(n.args)), n.output())
            )
