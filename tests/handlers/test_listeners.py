"""Every listener Bolt calls is a plain module-level function with a direct test of its own."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from slack_bolt import App

import handlers

HERE = Path(__file__).parent


def registered() -> list:
    app = App(signing_secret="x", token_verification_enabled=False,
              authorize=lambda **_: None, request_verification_enabled=False)
    handlers.register(app, services=None)
    functions = []
    for listener in app._listeners:  # Bolt keeps no public list
        functions += [listener.ack_function, *listener.lazy_functions]
    return functions


def test_every_listener_is_importable_by_name_and_tested_in_its_mirror_module():
    functions = registered()
    assert len(functions) >= 20
    for function in functions:
        module = importlib.import_module(function.__module__)
        assert getattr(module, function.__qualname__) is function, function.__qualname__
        leaf = function.__module__.rsplit(".", 1)[-1]
        tests = (HERE / f"test_{leaf}.py").read_text()
        called = re.search(rf"\b{function.__name__}\b[(,]", tests)  # called, or passed to a helper
        assert called, f"no direct test of {function.__qualname__}"
