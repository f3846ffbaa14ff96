"""Labelling in the browser: `kzoo label`.

Serves `kzoo.labeling.LabelStore` (the queue, the moves into
`train/<class>/`, the undo log) as a page on 127.0.0.1 behind a random
token (`kzoo.labeling.LabelServer`) until Ctrl+C (or SIGTERM). Every label is on disk
(and in `DATA/labels.csv`) as soon as it is given, so stopping loses
nothing and the same command continues where the queue stands.
"""

import contextlib
import errno
import json
import os
import signal
import urllib.request

from kzoo.errors import KzooError
from kzoo.labeling import LOG_FILE, LabelServer, LabelStore
from kzoo.run import progress
from kzoo.run.result import RunResult

DEFAULT_PORT = 8765
PORTS_TRIED = 50  # without --port: the default or one of the next ports
SHOWN_REFUSED = 5


def label(config):
    """Serve the labelling page of --queue (or --review) over --data.

    Returns:
        `RunResult` whose `report` holds the queue's counts and the URL.

    Raises:
        KzooError: No queue (or both), no data folder, an unreadable queue,
            no class to offer, a --port in use.
    """
    queue = _queue_file(config)
    if not os.path.isdir(config.data):
        raise KzooError(f"--data must be the data folder the images are in "
                        f"(they are moved into DATA/train/<class>/). "
                        f"Received: --data {config.data}")
    store = LabelStore(config.data, queue, classes=config.classes or (),
                       copy=config.copy, review=bool(config.review))
    _say_refused(store)
    for problem in store.problems:
        progress.say(f"  {problem}")
    if not store.classes:
        raise KzooError(f"No classes to offer: {config.data}/train/ has no "
                        "class folders. Expected --classes a,b,c (more can be "
                        "added on the page). Received: no --classes")
    if not store.entries:
        raise KzooError(f"No image of {queue} is inside --data {config.data}. "
                        f"Received: --data {config.data}")
    server = _server(store, config.port)
    state = store.state()
    pending = len(state["pending"])
    verb = "review" if config.review else "label"
    progress.say(f"label: {pending} of {state['total']} images to {verb} "
                 f"({state['labelled']} done); classes: "
                 f"{', '.join(store.classes)}; "
                 f"{'copied' if config.copy else 'moved'} into "
                 f"{os.path.join(config.data, 'train', '<class>')}/, logged in "
                 f"{os.path.join(config.data, LOG_FILE)}")
    progress.say(f"open {server.url}")
    progress.say("keys: 1-9 then a-z label, Space skips, Backspace undoes; "
                 "Ctrl+C stops (every label is already on disk)")
    report = {"url": server.url, "total": state["total"], "pending": pending}
    try:
        if config.smoke:
            report["answer"] = _self_check(server)
        else:
            with _stopped_by_sigterm():
                server.serve_forever()
    except KeyboardInterrupt:
        progress.say("")
    finally:
        server.server_close()
    state = store.state()
    progress.say(f"label: {state['labelled']} of {state['total']} done")
    report.update(pending=len(state["pending"]), labelled=state["labelled"])
    return RunResult("label", config.data, report=report)


@contextlib.contextmanager
def _stopped_by_sigterm():
    """`kill PID` (SIGTERM) stops the server as Ctrl+C does: every label is
    on disk already; the closing count is still printed."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _queue_file(config):
    if bool(config.queue) == bool(config.review):
        raise KzooError("Give --queue FILE.csv (kzoo select's --out) or "
                        "--review FILE.csv (kzoo audit's --out), one of them. "
                        f"Received: --queue {config.queue}, --review "
                        f"{config.review}")
    return config.queue or config.review


def _say_refused(store):
    for path, reason in store.refused[:SHOWN_REFUSED]:
        progress.say(f"  left out of the queue: {path}: {reason}")
    if len(store.refused) > SHOWN_REFUSED:
        progress.say(f"  ... and {len(store.refused) - SHOWN_REFUSED} more")


def _server(store, port):
    """The server on --port, or without one on the default port or the
    next free one."""
    ports = [port] if port is not None else range(
        DEFAULT_PORT, DEFAULT_PORT + PORTS_TRIED)
    for candidate in ports:
        try:
            return LabelServer(store, port=candidate)
        except OSError as err:
            if err.errno != errno.EADDRINUSE:
                raise
    raise KzooError(f"Port {port if port is not None else DEFAULT_PORT} "
                    f"is in use{'' if port is not None else ' (and the next ones)'}"
                    f"; --port 0 takes any free one. Received: --port {port}")


def _self_check(server):
    """--smoke: the queue fetched as the page would, then the server stopped."""
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/api/queue",
            headers={"Authorization": f"Bearer {server.token}"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            state = json.load(answer)
    finally:
        server.shutdown()
        thread.join()
    progress.say(f"smoke: GET /api/queue answered {len(state['pending'])} "
                 "images to label")
    return state
