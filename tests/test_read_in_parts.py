"""A large file of plain lines is parsed by one process per core; the result is the serial read's.

Each case runs in a fresh single-threaded interpreter (the loader forks its readers only from a
process with one thread; pytest's workers have more), with every file counted as large and
three cores, so that the file is cut in three parts. The script reports, per file, whether the
parts were used and what each read gave; the tests compare.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cmprehab import config

SCRIPT = r"""
import json, os, sys
import pandas as pd
from cmprehab.data import cohort as loader

os.cpu_count = lambda: 3

def read(path, parallel):
    loader.PARALLEL_MIN_BYTES = 0 if parallel else 1 << 62
    try:
        return loader.load_cohort(path, show_values=True), None
    except loader.CohortError as err:
        return None, str(err)

report = {}
for path in sys.argv[1:]:
    fd = os.open(path, os.O_RDONLY)
    loader.PARALLEL_MIN_BYTES = 0
    in_parts = loader._read_in_parts(loader.Path(path), fd) is not None
    os.close(fd)
    (parts, parts_error), (serial, serial_error) = read(path, True), read(path, False)
    same = parts_error == serial_error
    if parts is not None and serial is not None:
        pd.testing.assert_frame_equal(parts, serial, check_exact=True)
        same = same and parts.attrs == serial.attrs
    report[os.path.basename(path)] = {"in_parts": in_parts, "same": same, "error": serial_error}
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parts")
    text = config.DEFAULT_COHORT.read_text(encoding="utf-8")
    header, *lines = text.splitlines()
    later = len(lines) * 2 // 3  # a row read by the third part
    bad_value = list(lines)
    bad_value[later] = bad_value[later].replace(",female,", ",femme,", 1).replace(",male,", ",mle,", 1)
    duplicate = list(lines)
    duplicate[later] = lines[0].split(",", 1)[0] + "," + lines[later].split(",", 1)[1]
    quoted = list(lines)
    quoted[later] = quoted[later].replace(",female,", ',"female",', 1).replace(",male,", ',"male",', 1)
    files = {
        "plain.csv": "\n".join([header, *lines]) + "\n",
        "crlf.csv": "\r\n".join([header, *lines]) + "\r\n",
        "bom_no_final_newline.csv": "\ufeff" + "\n".join([header, *lines]),
        "blank_lines.csv": "\n".join([header, *lines[:later], "", " ", *lines[later:]]) + "\n",
        "bad_value.csv": "\n".join([header, *bad_value]) + "\n",
        "duplicate_id.csv": "\n".join([header, *duplicate]) + "\n",
        "quoted.csv": "\n".join([header, *quoted]) + "\n",
        "lone_cr.csv": "\n".join([header, *lines[:later]]) + "\r" + "\n".join(lines[later:]) + "\n",
        "header_only.csv": header + "\n",
    }
    paths = []
    for name, content in files.items():
        (folder / name).write_bytes(content.encode("utf-8"))
        paths.append(str(folder / name))
    done = subprocess.run([sys.executable, "-c", SCRIPT, *paths], cwd=config.ROOT, capture_output=True,
                          text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "HOME": str(folder)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", ["plain.csv", "crlf.csv", "bom_no_final_newline.csv", "blank_lines.csv"])
def test_a_valid_file_of_plain_lines_is_read_in_parts_and_gives_the_serial_result(report, name):
    assert report[name] == {"in_parts": True, "same": True, "error": None}


@pytest.mark.parametrize("name, rule", [("bad_value.csv", "must be one of"),
                                        ("duplicate_id.csv", "duplicate value"),
                                        ("header_only.csv", "no data rows")])
def test_a_file_with_a_problem_is_read_again_serially_and_reported_as_always(report, name, rule):
    assert report[name]["in_parts"] is False and report[name]["same"] is True
    assert rule in report[name]["error"]


@pytest.mark.parametrize("name", ["quoted.csv", "lone_cr.csv"])
def test_a_file_whose_records_may_not_be_its_lines_is_read_serially(report, name):
    assert report[name] == {"in_parts": False, "same": True, "error": None}
