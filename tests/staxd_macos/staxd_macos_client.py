"""Run as an unprivileged user (setpriv): record through staxd-macos into a .stax file, print JSON.

``python staxd_macos_client.py SOCKET OUTPUT REQUEST_JSON`` runs the backend's capture loop
(:func:`stax_backend_macos.capture_session.run_capture`) against staxd for one second and
prints ``{"samples": N, ...}``, or ``{"error": sentence}`` when staxd refuses.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stax.errors import StaxError
from stax.recording.writer import RecordingBuilder
from stax_backend_macos.capture_session import run_capture
from stax_backend_macos.staxd_link import StaxdTrace
from stax_backend_macos.staxd_wire import RecordRequest


def main() -> None:
    socket_path, output, request_json = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
    request = RecordRequest(**request_json)
    builder = RecordingBuilder(output)
    try:
        summary = run_capture(StaxdTrace(request, socket_path), request, builder, lambda p: None,
                              lambda: False, duration=1.0)
    except StaxError as exc:
        builder.abandon()
        print(json.dumps({"error": str(exc)}))
        return
    builder.set_meta({"notes": summary.notes})
    builder.finish(symbolicate=False)
    print(json.dumps({"samples": summary.samples, "notes": summary.notes}))


if __name__ == "__main__":
    main()
