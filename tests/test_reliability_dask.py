"""Issue 25, item 10: ``fermask mask --dask`` says what is wrong in one line, before and during the run.

``ucx://`` and ``tls://`` addresses were a ``TypeError``; ``not-an-address``, ``''``,
``tcp://`` and ``http://...`` got the right message, then a ``Client.__del__``
``TimeoutError`` traceback seconds later; a scheduler killed mid-run was 50 lines
ending in ``CancelledError``. Now the address is checked before any client is
made, and a lost scheduler is one :class:`SchedulerLostError` line saying that
the rerun resumes.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from fermask.cli import main
from fermask.errors import FermaskError, InvalidValueError

BAD_ADDRESSES = ["ucx://10.0.0.5:8786", "tls://10.0.0.5:8786", "not-an-address", "", "  ", "tcp://",
                 "http://10.0.0.5:8787", "tcp://10.0.0.5:99999", "tcp://10.0.0.5:0", "tcp://10.0.0.5:8786/status",
                 "inproc://"]


@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_a_bad_address_is_refused_before_any_client_is_made(address: str) -> None:
    from fermask._dask import check_address

    with pytest.raises(InvalidValueError, match="is not a Dask scheduler address: .*; expected tcp://HOST:PORT"):
        check_address(address)


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "10.0.0.5:8786", "tcp://[::1]:8786", "tcp://sched.local:1"])
def test_a_good_address_passes(address: str) -> None:
    from fermask._dask import check_address

    assert check_address(address).startswith("tcp://")


@pytest.mark.parametrize("address", BAD_ADDRESSES[:7])
def test_mask_dask_with_a_bad_address_is_one_line_and_exit_2(
    address: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    distributed = pytest.importorskip("distributed")

    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Client was made for a malformed address")

    monkeypatch.setattr(distributed, "Client", no_client)
    (tmp_path / "in").mkdir()
    rc = main(["mask", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--dask", address, "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err and "is not a Dask scheduler address" in err, err
    assert not (tmp_path / "out").exists()


def _slow(x: int) -> int:
    time.sleep(0.3)
    return x


def test_a_scheduler_lost_mid_run_is_one_error_that_says_the_rerun_resumes() -> None:
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    from fermask._dask import SchedulerLostError, dask_executor

    cluster = LocalCluster(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    try:
        with pytest.raises(SchedulerLostError, match="lost the Dask scheduler .* rerun the same command to resume"):
            with dask_executor(cluster.scheduler_address, timeout=10) as executor:
                futures = [executor.submit(_slow, i) for i in range(20)]
                assert futures[0].result() == 0
                threading.Thread(target=cluster.close).start()  # the scheduler goes away mid-run
                for f in futures:
                    f.result()
    finally:
        cluster.close()
    assert issubclass(SchedulerLostError, FermaskError)
