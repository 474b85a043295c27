"""A tracking server that does not answer: an error that names the URI, the spool and the fix.

The wait itself is bounded by :func:`coco_pipe.tracking.client.bound_http_wait` (MLflow's
own request settings); :func:`outage_error` turns the failure into a
:class:`~coco_pipe.tracking.TrackingUnavailableError`.
"""

from __future__ import annotations

from pathlib import Path

from .client import TrackingUnavailableError


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the tracking server could not be reached or did not answer."""
    if isinstance(exc, TrackingUnavailableError | ConnectionError | TimeoutError):
        return True
    text = f"{type(exc).__name__}: {exc}"
    return any(
        s in text
        for s in ("Max retries exceeded", "Connection refused", "ConnectionError",
                  "Read timed out", "ConnectTimeout", "RemoteDisconnected", "API request to")
    )  # fmt: skip


def outage_error(uri: str, exc: BaseException, spool: Path | str, timeout_s: float | None,
                 what: str = "") -> TrackingUnavailableError:  # fmt: skip
    """The error raised when the server at ``uri`` stopped answering.

    Examples
    --------
    >>> str(outage_error("http://127.0.0.1:5000", OSError("refused"), "/s", 30))[:40]
    'the tracking server http://127.0.0.1:500'
    """
    wait = f" within tracking.timeout_s={timeout_s:g} s" if timeout_s else ""
    return TrackingUnavailableError(
        f"the tracking server {uri} did not answer{wait} ({type(exc).__name__}: "
        f"{str(exc)[:300]}); the experiment stopped{what}. Nothing computed is lost: finished "
        f"folds not yet in the store are kept in the spool {spool}. Once the server is back, run "
        f"`coco-pipe sync {spool}` or run the experiment again with resume=True (--resume)."
    )


__all__ = ["is_unavailable", "outage_error"]
