"""`%load_ext workshop` makes `%load` of an answer work however a learner types it."""
import os
import subprocess
import sys

import pytest
from IPython.testing.globalipapp import start_ipython

from workshop import ROOT, SOLUTIONS


@pytest.fixture(scope="module")
def ipython():
    shell = start_ipython()
    shell.run_line_magic("load_ext", "workshop")
    return shell


def loaded_cell(ipython, cell):
    """What the cell becomes after running it: %load sets the next input, replacing the cell."""
    captured = {}
    ipython.set_next_input = lambda text, replace=False: captured.update(text=text, replace=replace)
    result = ipython.run_cell(cell)
    assert result.error_in_exec is None and result.error_before_exec is None
    return captured


def test_load_typed_above_the_skeleton_replaces_the_whole_cell(ipython):
    answer = SOLUTIONS / "04_1_get_user.py"
    loaded = loaded_cell(ipython, f"%load {answer}\n%%writefile my_x.py\nskeleton = 1\n")
    assert loaded["replace"] and loaded["text"].endswith(answer.read_text())


def test_a_loaded_writefile_answer_runs_despite_the_load_comment(ipython, tmp_path):
    target = tmp_path / "my_answer.py"
    result = ipython.run_cell(f"# %load ../solutions/x.py\n%%writefile {target}\nanswer = 42\n")
    assert result.success and target.read_text() == "answer = 42\n"


def test_loading_the_extension_quiets_grpcs_info_lines_before_grpc_is_imported():
    code = ("import sys; from IPython.testing.globalipapp import start_ipython; shell = start_ipython(); "
            "shell.run_line_magic('load_ext', 'workshop'); import os; print(os.environ['GRPC_VERBOSITY'], "
            "'grpc' in sys.modules)")
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                           env={k: v for k, v in os.environ.items() if k != "GRPC_VERBOSITY"}, check=True)
    assert quiet.stdout.split() == ["ERROR", "False"], quiet
    chosen = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "GRPC_VERBOSITY": "DEBUG"}, check=True)
    assert chosen.stdout.split() == ["DEBUG", "False"], chosen


def test_catch_up_of_a_function_answer_defines_it_and_says_so(ipython, capsys):
    from workshop import catch_up

    ipython.user_ns.pop("count_known", None)
    ipython.run_cell("from workshop.protos import users_pb2")
    catch_up("09_2_count_known.py")
    assert callable(ipython.user_ns["count_known"])
    assert "caught up: solutions/09_2_count_known.py ran" in capsys.readouterr().out
