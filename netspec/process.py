"""How the `netspec` process meets its surroundings: signals, and output it cannot write.

- SIGINT, SIGTERM and SIGHUP end the command at once with status 128 + the signal (130,
  143, 129), without a traceback, after removing the temporary file of a write in
  progress (:data:`TEMPORARIES`): the file being replaced keeps its old content.
- Standard output that cannot be written (a full disk, a closed descriptor) ends the
  command with status 2 and one line on standard error, where standard error works; a
  reader that went away (`netspec check x.net | head`) is no error.
- Where no handler of netspec's is installed (the Python API), a write in progress
  still removes its temporary file on SIGTERM, then lets the signal end the process.

This module imports nothing of netspec's (but netspec.errors), so that the handlers are in
place before the checker's modules load.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Any, Callable, Iterator, NoReturn

TEMPORARIES: set[str] = set()  # temporary files of the writes in progress
SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")


class OutputError(Exception):
    """Standard output could not be written."""


def remove_temporaries() -> None:
    for path in list(TEMPORARIES):
        try:
            os.unlink(path)
        except OSError:
            pass
        TEMPORARIES.discard(path)


def _end(signum: int, frame: Any) -> None:
    remove_temporaries()
    os._exit(128 + signum)


def install() -> None:
    """End the process cleanly on SIGINT, SIGTERM and SIGHUP (the `netspec` command only)."""
    for name in SIGNALS:
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _end)


def _end_by_default(signum: int, frame: Any) -> None:
    remove_temporaries()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


@contextlib.contextmanager
def temporary(path: str) -> Iterator[None]:
    """While the block runs, ``path`` is a temporary file that a signal removes; where
    SIGTERM would kill the process outright, it first removes the file."""
    TEMPORARIES.add(path)
    held = (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)
    if held:
        signal.signal(signal.SIGTERM, _end_by_default)
    try:
        yield
    finally:
        TEMPORARIES.discard(path)
        if held:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _Output:
    """Standard output: a write that fails is an :class:`OutputError` (a reader that went
    away stays a BrokenPipeError)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as e:
            raise OutputError(e) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except (OSError, ValueError) as e:
            raise OutputError(e) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _Errors(_Output):
    """Standard error: what cannot be written there is dropped (there is nowhere else)."""

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text) if self._stream is not None else len(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            if self._stream is not None:
                self._stream.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()


def _why(e: BaseException) -> str:
    cause = e.args[0] if isinstance(e, OutputError) and e.args else e
    return getattr(cause, "strerror", None) or str(cause) or type(cause).__name__


def _failed(e: BaseException) -> int:
    """Report output that could not be written; later flushes go nowhere. Status 2."""
    print(f"netspec: error: cannot write the output: {_why(e)}", file=sys.stderr)
    try:  # what is still buffered goes to /dev/null, so the end of the process is quiet
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.__stdout__.fileno())
        os.close(null)
    except (OSError, AttributeError, ValueError):
        pass
    return 2


def _flushed(code: int) -> int:
    """Flush what was printed; the status becomes 2 where standard output failed."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`netspec check x.net | head`)
        pass
    except (OutputError, OSError, ValueError) as e:
        code = _failed(e)
    sys.stderr.flush()
    return code


def _status(e: SystemExit) -> int:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)


def run(main: Callable[[], int]) -> NoReturn:
    """The `netspec` command: handlers first, then ``main()``, then the end of the process
    without the interpreter's teardown (which frees every object one by one: a fifth of a
    large check, for memory the process gives back anyway) unless torch was imported,
    which may have exit handlers of its own."""
    install()
    sys.stderr = _Errors(sys.stderr)
    if sys.stdout is None:
        print("netspec: error: cannot write the output: standard output is closed", file=sys.stderr)
        os._exit(2)
    sys.stdout = _Output(sys.stdout)
    try:
        code = main()
    except SystemExit as e:
        code = _status(e)
    except OutputError as e:
        code = _failed(e)
    code = _flushed(code)
    if "torch" not in sys.modules:
        os._exit(code)
    sys.exit(code)
