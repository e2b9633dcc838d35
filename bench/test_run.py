#!/usr/bin/env python3
"""Unit tests of bench/run.py's pure rules: spread, verdict, the regression rule, the
merge of a filtered run and the filter's choice of parts. Fast (no benchmark runs):
`python3 bench/test_run.py`, run by `make lint`."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402


def row(key, verdict, ratio, spread=None, goal="<= 1", section="S", label=None):
    return {"key": key, "section": section, "label": label or key, "verdict": verdict,
            "ratio": ratio, "spread": spread, "goal": goal}


class SpreadAndVerdict(unittest.TestCase):
    def test_spread_is_min_max(self):
        self.assertEqual(run.spread([0.9, 1.2, 0.7]), (0.7, 1.2))
        self.assertIsNone(run.spread([]))
        self.assertIsNone(run.spread(None))

    def test_pass_when_every_round_meets_the_goal(self):
        self.assertEqual(run.verdict([0.5, 0.9, 1.0], ("<=", 1.0)), "PASS")
        self.assertEqual(run.verdict([2.0, 2.5], (">=", 2.0)), "PASS")

    def test_miss_when_no_round_does(self):
        self.assertEqual(run.verdict([1.1, 1.5], ("<=", 1.0)), "MISS")
        self.assertEqual(run.verdict([1.9, 1.0], (">=", 2.0)), "MISS")

    def test_noisy_when_rounds_straddle_the_goal(self):
        self.assertEqual(run.verdict([0.9, 1.1, 0.95], ("<=", 1.0)), "noisy")
        self.assertEqual(run.verdict([1.9, 2.1], ">= 2"), "noisy")

    def test_no_goal_no_verdict_and_no_figures_na(self):
        self.assertIsNone(run.verdict([1.0], None))
        self.assertEqual(run.verdict([], ("<=", 1.0)), "n/a")

    def test_goal_text_round_trips(self):
        self.assertEqual(run.parse_goal("<= 0.6"), ("<=", 0.6))
        self.assertEqual(run.goal_text((">=", 5.0)), ">= 5")

    def test_table_row_ratio_per_round(self):
        t = run.Table()
        # Round 2 is slow on both sides: its ratio stays 0.5, the medians' would not.
        t.add("S", "a", [100, 400, 110], [200, 800, 220], fn=run.TIME, goal=("<=", 0.6),
              key="s.a")
        r = t.rows[0]
        self.assertEqual(r["ratios"], [0.5, 0.5, 0.5])
        self.assertEqual(r["ratio"], 0.5)
        self.assertEqual(r["spread"], [0.5, 0.5])
        self.assertEqual(r["verdict"], "PASS")
        self.assertEqual(r["measured"], 110)
        self.assertEqual(r["peer"], 220)

    def test_table_row_skips_a_round_missing_a_side(self):
        t = run.Table()
        t.add("S", "a", [100, None, 300], [200, 400, None], fn=run.TIME, goal=("<=", 1.0),
              key="s.a")
        self.assertEqual(t.rows[0]["ratios"], [0.5])
        self.assertEqual(t.rows[0]["verdict"], "PASS")

    def test_table_row_against_a_limit(self):
        t = run.Table()
        t.add("S", "a", [90, 160, 120], 150, fn=run.TIME, goal=("<=", 1.0), key="s.a")
        self.assertEqual(t.rows[0]["verdict"], "noisy")
        self.assertEqual(t.rows[0]["spread"], [0.6, round(160 / 150, 4)])


class Regression(unittest.TestCase):
    def test_pass_to_miss_beyond_both_spreads_regresses(self):
        old = row("k", "PASS", 0.8, [0.75, 0.85])
        new = row("k", "MISS", 1.3, [1.2, 1.4])
        self.assertIsNotNone(run.regression(old, new))  # 0.5 worse > 0.1 + 0.2

    def test_pass_to_miss_within_the_spreads_does_not(self):
        old = row("k", "PASS", 0.95, [0.8, 1.0])
        new = row("k", "MISS", 1.1, [1.02, 1.3])
        self.assertIsNone(run.regression(old, new))  # 0.15 worse <= 0.2 + 0.28

    def test_higher_is_better_goals(self):
        old = row("k", "PASS", 2.5, [2.4, 2.6], goal=">= 2")
        self.assertIsNotNone(run.regression(old, row("k", "MISS", 1.5, [1.4, 1.6], goal=">= 2")))
        self.assertIsNone(run.regression(old, row("k", "MISS", 1.9, [1.5, 1.95], goal=">= 2")))

    def test_noisy_and_old_miss_are_not_regressions(self):
        self.assertIsNone(run.regression(row("k", "PASS", 0.8, [0.7, 0.9]),
                                         row("k", "noisy", 1.5, [0.9, 2.0])))
        self.assertIsNone(run.regression(row("k", "MISS", 1.1, [1.05, 1.2]),
                                         row("k", "MISS", 3.0, [2.9, 3.1])))

    def test_old_rows_without_spread_count_as_zero_width(self):
        old = {"key": "k", "result": "PASS", "ratio": 0.9, "target": "<= 1"}
        self.assertIsNotNone(run.regression(old, row("k", "MISS", 1.3, [1.25, 1.35])))
        self.assertIsNone(run.regression(old, row("k", "MISS", 1.05, [1.01, 1.2])))

    def test_only_rows_run_are_compared(self):
        old = [row("a", "PASS", 0.5, [0.5, 0.5]), row("b", "PASS", 0.5, [0.5, 0.5])]
        new = [row("a", "MISS", 2.0, [2.0, 2.0])]  # b was not run: never a regression
        got = run.regressions(old, new)
        self.assertEqual([r["key"] for r, _ in got], ["a"])
        self.assertEqual(run.regressions(old, []), [])
        self.assertEqual(run.regressions([], new), [])

    def test_a_baseline_from_another_machine_is_named(self):
        xeon = {"cpu": "Intel(R) Xeon(R) Processor", "cpus": 2, "kernel": "a"}
        epyc = {"cpu": "AMD EPYC", "cpus": 2, "kernel": "a"}
        note = run.machine_note(epyc, xeon)
        self.assertIn("AMD EPYC", note)
        self.assertIn("Intel(R) Xeon(R) Processor", note)
        self.assertIsNotNone(run.machine_note(xeon, dict(xeon, cpus=4)))
        # The same kind of machine (another kernel or load is not another machine),
        # or a baseline that does not say: no note.
        self.assertIsNone(run.machine_note(xeon, dict(xeon, kernel="b")))
        self.assertIsNone(run.machine_note(None, xeon))
        self.assertIsNone(run.machine_note({}, xeon))


class FilterAndMerge(unittest.TestCase):
    def test_merge_replaces_in_place_and_keeps_rows_not_run(self):
        old = [row("a", "PASS", 1, section="X"), row("b", "PASS", 1, section="Y"),
               row("c", "PASS", 1, section="Y")]
        new = [row("b", "MISS", 2, section="Y"), row("d", None, 3, section="Y"),
               row("e", None, 4, section="Z")]
        merged = run.merge_rows(old, new)
        self.assertEqual([r["key"] for r in merged], ["a", "b", "c", "d", "e"])
        self.assertEqual(merged[1]["verdict"], "MISS")
        self.assertEqual(merged[0], old[0])

    def test_merge_drops_old_rows_of_a_part_run_whole(self):
        old = [row("redis.a", "PASS", 1), row("redis.gone", "PASS", 1), row("go.x", "PASS", 1)]
        new = [row("redis.a", "MISS", 2)]
        self.assertEqual([r["key"] for r in run.merge_rows(old, new, ["redis"])],
                         ["redis.a", "go.x"])
        self.assertEqual([r["key"] for r in run.merge_rows(old, new)],
                         ["redis.a", "redis.gone", "go.x"])

    def test_parts_by_name_or_by_known_row(self):
        known = [row("c.verify_64", "PASS", 0.5, label="toto_session_verify 64 B"),
                 row("redis.toto_retrieve", "MISS", 0.7, label="retrieve throughput")]
        self.assertEqual(run.select_parts("redis", known), ["redis"])
        self.assertEqual(run.select_parts("verify", known), ["micro"])
        self.assertEqual(run.select_parts("^go", []), ["go", "gohttp", "gopeers"])
        self.assertEqual(run.select_parts(None, []), run.PARTS)
        self.assertEqual(run.select_parts("nothing-like-this", known), [])

    def test_rows_kept_by_part_or_text(self):
        r = row("gopeers.cookie_toto", "PASS", 0.2, label="client-side seal")
        self.assertTrue(run.keep_row("gopeers", r))
        self.assertTrue(run.keep_row("seal", r))
        self.assertFalse(run.keep_row("redis", r))
        self.assertTrue(run.keep_row(None, r))

    def test_every_row_key_prefix_names_a_part(self):
        for prefix, part in run.KEY_PARTS:
            self.assertIn(part, run.PARTS, prefix)
        self.assertEqual(run.part_of_key("scale.threads_2"), "threads")
        self.assertEqual(run.part_of_key("scale.rss_1000"), "scale")
        self.assertEqual(run.part_of_key("gohttp.x"), "gohttp")
        self.assertEqual(run.part_of_key("go.SessionGetInt"), "go")
        self.assertEqual(run.part_of_key("ruby.session[:n] (int64)"), "ruby")
        self.assertEqual(run.part_of_key("rubyyjit.session[:n] (int64)"), "rubyyjit")

    def test_machine_drift_from_the_calibration_peers(self):
        old = [{"key": "a", "measured": 100.0}, {"key": "b", "measured": 50.0},
               {"key": "c", "measured": 10.0}]
        new = [{"key": "a", "measured": 112.0}, {"key": "b", "measured": 50.0}]
        cal = [("a", "CPU"), ("b", "memory"), ("c", "gone")]
        drift = run.machine_drift(old, new, cal)
        self.assertEqual([w for w, _ in drift], ["CPU", "memory"])
        self.assertAlmostEqual(drift[0][1], 1.12)
        self.assertIn("CPU 1.12x the time", run.drift_note(drift))
        self.assertIsNone(run.drift_note([("CPU", 1.05), ("memory", 0.95)]))
        self.assertIsNone(run.drift_note([]))

    def test_ruby_rows_under_yjit_have_no_goals(self):
        rounds = [{"bare ffi call: toto_version (pointer)": 100.0,
                   "session[:n] (int64)": 150.0,
                   "manager.retrieve_session(id) + close": 900.0}] * 2
        for yjit, prefix in ((False, "ruby."), (True, "rubyyjit.")):
            t = run.Table()
            run.ruby_rows(t, {"rounds": rounds}, yjit=yjit)
            keys = {r["key"]: r for r in t.rows if r.get("key")}
            self.assertTrue(all(k.startswith(prefix) for k in keys), keys)
            goals = [k for k, r in keys.items() if r.get("goal")]
            if yjit:
                self.assertEqual(goals, [])
            else:
                self.assertIn("ruby.session[:n] (int64)", goals)


if __name__ == "__main__":
    unittest.main()
