"""`python -m workshop execute`: a notebook runs in an empty folder of its own, so what it stores is what a
fresh checkout prints, and the files its cells write never land next to it (where a learner's are)."""
import nbformat

from workshop.notebooks import execute_and_save


def test_a_notebook_runs_in_an_empty_folder_and_writes_nothing_beside_itself(tmp_path):
    (tmp_path / "my_server.py").write_text("# a learner's own\n")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%%writefile my_server.py\nprint('from the notebook')"),
        nbformat.v4.new_code_cell("import os\nprint(sorted(os.listdir('.')))")])
    path = tmp_path / "99-scratch.ipynb"
    nbformat.write(notebook, path)
    assert execute_and_save([str(path)]) == 0
    outputs = [output["text"] for cell in nbformat.read(path, as_version=4).cells for output in cell.outputs]
    assert outputs == ["Writing my_server.py\n", "['my_server.py']\n"]  # not "Overwriting": a folder of its own
    assert (tmp_path / "my_server.py").read_text() == "# a learner's own\n"
