"""The README's promise: exactly two commands first (open, test), and CI runs the second one."""
import re
import subprocess
import sys

from workshop import ROOT


def first_code_block():
    return re.search(r"```\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1).strip().splitlines()


def test_readme_starts_with_the_two_commands():
    assert first_code_block() == ["python3 -m workshop open", "python3 -m workshop test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert first_code_block()[1] in ci.splitlines()


def test_bootstrap_without_a_command_prints_usage():
    result = subprocess.run([sys.executable, "-m", "workshop"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert "python -m workshop open" in result.stdout and "python -m workshop test" in result.stdout


def test_bootstrap_uses_only_the_standard_library_before_the_venv_exists():
    """`python -m workshop` runs on a bare Python: importing it must not need grpc or jupyter."""
    probe = ("import sys; import workshop, workshop.__main__; "
             "heavy = [m for m in ('grpc', 'nbformat', 'psutil', 'IPython') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-S", "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def stated_minutes_in_headers() -> dict[str, str]:
    import json

    found = {}
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        opening = "".join(json.loads(path.read_text())["cells"][0]["source"])
        time = re.search(r"\*\*Time\*\*: (\d+) minutes(?:, \+(\d+) optional)? ·", opening)
        assert time, f"{path.name} states no **Time** at its top"
        found[path.name[:2]] = time.group(1) + (f" (+{time.group(2)})" if time.group(2) else "")
    return found


def minutes_column(text: str) -> dict[str, str]:
    return dict(re.findall(r"^\| (\d\d) \| [^|]+ \| ([\d (+)]+?) \|", text, re.M))


def test_minutes_agree_in_every_notebook_the_path_and_the_readme():
    import json

    headers = stated_minutes_in_headers()
    welcome = json.loads((ROOT / "notebooks" / "00-welcome.ipynb").read_text())
    sources = ["".join(cell["source"]) for cell in welcome["cells"]]
    path_table = next(source for source in sources if "## The path" in source)
    assert minutes_column((ROOT / "README.md").read_text()) == headers
    assert minutes_column(path_table) == headers


def test_the_readme_routes_add_up_to_their_slots():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("| step | 90-minute route"):].split("\n\n")[0].splitlines()[2:]
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in table]
    steps = [row for row in cells if "**total**" not in row[1]]
    short, long = (sum(int(row[column] or 0) for row in steps) for column in (2, 4))
    assert (short, long) == (90, 150), (short, long)
