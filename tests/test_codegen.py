"""Code generation: fresh, cached, broken, and importable from anywhere."""
import shutil
import subprocess
import sys

import pytest

from workshop import PROTOS, ROOT
from workshop.codegen import ProtoError, generate, protoc_location


@pytest.fixture
def contracts(tmp_path):
    folder = tmp_path / "protos"
    shutil.copytree(PROTOS, folder)
    return folder


def test_generates_messages_services_and_stubs_into_a_package(contracts, tmp_path):
    package_dir = tmp_path / "out" / "mycontracts"
    assert generate(contracts, package_dir, "mycontracts") is True
    for name in ("users", "chat"):
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
            assert (package_dir / f"{name}{suffix}").is_file(), f"{name}{suffix} was not generated"
    assert "from mycontracts import users_pb2" in (package_dir / "users_pb2_grpc.py").read_text()
    probe = "import mycontracts.users_pb2_grpc as g; print(hasattr(g, 'UserManagerStub'))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path / "out", capture_output=True, text=True)
    assert result.stdout.strip() == "True", result.stderr


def test_second_generation_is_skipped_until_a_contract_changes(contracts, tmp_path):
    package_dir = tmp_path / "out" / "mycontracts"
    generate(contracts, package_dir, "mycontracts")
    assert generate(contracts, package_dir, "mycontracts") is False
    users = contracts / "users.proto"
    users.write_text(users.read_text() + "\nmessage Extra {\n  string note = 1;\n}\n")
    assert generate(contracts, package_dir, "mycontracts") is True
    assert "Extra" in (package_dir / "users_pb2.pyi").read_text()


def test_broken_contract_raises_protoc_message_with_its_line(contracts, tmp_path):
    (contracts / "broken.proto").write_text(
        'syntax = "proto3";\npackage broken.v1;\n\nmessage Oops {\n  string name = 1\n  int32 age = 2;\n}\n')
    with pytest.raises(ProtoError) as raised:
        generate(contracts, tmp_path / "out" / "mycontracts", "mycontracts")
    message = str(raised.value)
    assert str(contracts / "broken.proto") in message, message
    assert protoc_location(raised.value) == ("broken.proto", 6), message
    assert "Expected" in message


def test_broken_contract_leaves_the_previous_code_in_place(contracts, tmp_path):
    package_dir = tmp_path / "out" / "mycontracts"
    generate(contracts, package_dir, "mycontracts")
    before = (package_dir / "users_pb2.py").read_text()
    (contracts / "users.proto").write_text("this is not a contract")
    with pytest.raises(ProtoError):
        generate(contracts, package_dir, "mycontracts")
    assert (package_dir / "users_pb2.py").read_text() == before


def test_kit_contracts_import_from_any_directory(tmp_path):
    probe = ("from workshop.protos import users_pb2, users_pb2_grpc, chat_pb2, chat_pb2_grpc; "
             "print(users_pb2.User(nickname='ada').nickname)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert result.stdout.strip() == "ada", result.stderr


def test_generated_folder_is_ignored_by_git():
    result = subprocess.run(["git", "check-ignore", "-q", "workshop/protos/users_pb2.py"], cwd=ROOT)
    assert result.returncode == 0, "generated code must not be committed"
