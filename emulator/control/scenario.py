"""Scenarios: a timeline of actions and faults, replayed on the device clock.

    name = "doorbell, answer, reboot"
    [[steps]]
    at = 0
    action = "press"
    key = "%1"
    [[steps]]
    at = 2.5
    action = "peer-answers"
    session = 1
    [[steps]]
    at = 4
    fault = { kind = "reboot", seconds = 3 }

Every step is checked when the scenario is loaded. On a virtual clock the run is deterministic:
steps happen exactly when a test advances time past them.
"""

from __future__ import annotations

import itertools
import logging
import math
import tomllib
from typing import TYPE_CHECKING, Any

from emulator.control import actions
from emulator.control.faults import KINDS, FaultError
from emulator.control.faults.base import MAX_DEPTH, check_tree
from emulator.errors import ApiError

if TYPE_CHECKING:
    from emulator.app import Emulator

log = logging.getLogger("emulator.control")
MAX_STEPS = 1000
MAX_SCENARIOS = 32


class Scenario:
    def __init__(self, scenario_id: int, name: str, steps: list[dict[str, Any]]):
        self.id = scenario_id
        self.name = name
        self.steps = steps
        self.done = 0
        self.errors: list[str] = []
        self.timers: list[Any] = []  # steps still to come, cancelled when the scenarios are cleared

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "steps": len(self.steps), "done": self.done,
                "errors": self.errors, "finished": self.done == len(self.steps)}


def parse(text_or_data: str | dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A scenario from TOML text or an already-parsed object; FaultError says what is wrong."""
    try:
        data = tomllib.loads(text_or_data) if isinstance(text_or_data, str) else text_or_data
    except tomllib.TOMLDecodeError as exc:
        raise FaultError(f"not valid TOML: {exc}") from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise FaultError(f"the scenario is nested more than {MAX_DEPTH} levels deep") from None
    check_tree(data, "the scenario")
    if not isinstance(data, dict):
        raise FaultError("a scenario is a table with `steps`")
    name = data.get("name", "scenario")
    steps = data.get("steps")
    if not isinstance(name, str) or not isinstance(steps, list) or not steps or len(steps) > MAX_STEPS:
        raise FaultError(f"a scenario has a name and 1 to {MAX_STEPS} `steps`")
    checked = []
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            raise FaultError(f"steps[{i}]: expected a table")
        step = dict(step)
        at = step.pop("at", None)
        if isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 <= at < math.inf:  # TOML has nan, inf
            raise FaultError(f"steps[{i}].at: seconds from the start, not negative")
        if "action" in step:
            name_ = step.pop("action")
            if name_ not in actions.ACTIONS:
                raise FaultError(f"steps[{i}].action: unknown action {name_!r}")
            try:
                actions.check(name_, step)  # parameter names and types now, not in the middle of the run
            except FaultError as exc:
                raise FaultError(f"steps[{i}].{exc}") from None
            checked.append({"at": float(at), "action": name_, "params": step})
        elif "fault" in step and len(step) == 1 and isinstance(step["fault"], dict):
            spec = step["fault"]
            cls = KINDS.get(spec.get("kind"))
            if cls is None:
                raise FaultError(f"steps[{i}].fault.kind: one of {', '.join(KINDS)}")
            try:
                cls(0, spec)  # checks every parameter now, not in the middle of the run
            except FaultError as exc:
                raise FaultError(f"steps[{i}].fault.{exc}") from None
            checked.append({"at": float(at), "fault": spec})
        else:
            raise FaultError(f"steps[{i}]: an `action` (with its parameters) or a `fault` table")
    return name, sorted(checked, key=lambda s: s["at"])


class Scenarios:
    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self._ids = itertools.count(1)
        self.loaded: dict[int, Scenario] = {}

    def start(self, text_or_data: str | dict[str, Any]) -> Scenario:
        name, steps = parse(text_or_data)
        scenario = Scenario(next(self._ids), name, steps)
        self.loaded[scenario.id] = scenario
        while len(self.loaded) > MAX_SCENARIOS:
            del self.loaded[next(iter(self.loaded))]
        for step in steps:
            if step["at"] == 0:
                self._run(scenario, step)  # "at 0" is now, on either clock
            else:
                scenario.timers.append(self.emulator.clock.call_later(step["at"], self._run, scenario, step))
        return scenario

    def clear(self) -> None:
        """Forget every scenario and stop the steps still to come (the control plane's reset)."""
        for scenario in self.loaded.values():
            for timer in scenario.timers:
                timer.cancel()
        self.loaded.clear()

    def _run(self, scenario: Scenario, step: dict[str, Any]) -> None:
        log.info("scenario %d %r: step %d of %d, at %g s", scenario.id, scenario.name, scenario.done + 1,
                 len(scenario.steps), step["at"])
        try:
            if "action" in step:
                actions.run(self.emulator, step["action"], step["params"])
            else:
                self.emulator.faults.add(step["fault"])
        except (ValueError, ApiError) as exc:
            scenario.errors.append(f"at {step['at']:g} s: {exc}")
            log.warning("scenario %d %r: at %g s: %s", scenario.id, scenario.name, step["at"], exc)
        scenario.done += 1
