"""Code generation: fresh, cached, broken, and importable from anywhere; and protoc's own descriptor set."""
import shutil
import subprocess
import sys
from pprint import pformat

import pytest

from workshop import PROTOS, ROOT, shipped_contracts
from workshop.codegen import (
    ProtoError,
    descriptor_set,
    generate,
    protoc_location,
    protoc_message,
    read_stamp,
    well_known_types,
)


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


def test_grpclib_stubs_come_only_when_asked_for_and_import_the_same_messages(contracts, tmp_path):
    package_dir = tmp_path / "out" / "mycontracts"

    def grpclib_stubs():
        return sorted(p.name for p in package_dir.glob("*_grpc.py") if not p.name.endswith("_pb2_grpc.py"))

    generate(contracts, package_dir, "mycontracts")
    assert grpclib_stubs() == [], "grpclib stubs without grpclib=True"
    assert generate(contracts, package_dir, "mycontracts", grpclib=True) is True  # asking for more regenerates
    probe = ("import mycontracts.users_grpc as g, mycontracts.users_pb2 as m; "
             "print(hasattr(g, 'UserManagerStub'), g.mycontracts.users_pb2 is m)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path / "out", capture_output=True, text=True)
    assert result.stdout.split() == ["True", "True"], result.stderr
    assert "users_grpc.py" in grpclib_stubs()
    assert generate(contracts, package_dir, "mycontracts") is True  # and asking for less takes them away
    assert grpclib_stubs() == []


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


def test_descriptor_set_is_what_protoc_understood_and_generates_nothing(contracts):
    before = sorted(p.name for p in contracts.iterdir())
    contract = descriptor_set(contracts / "users.proto").file[-1]
    assert (contract.name, contract.package, contract.syntax) == ("users.proto", "users.v1", "proto3")
    user = next(m for m in contract.message_type if m.name == "User")
    assert [(f.name, f.number) for f in user.field] == [("id", 1), ("nickname", 2), ("mail_address", 3),
                                                       ("user_type", 4)]
    assert [m.name for m in contract.service[0].method][:2] == ["GetUser", "AddUser"]
    assert sorted(p.name for p in contracts.iterdir()) == before


def test_descriptor_set_sees_each_new_version_of_a_contract(tmp_path):
    contract = tmp_path / "talk.proto"
    for version, field in enumerate(["string title = 1;", "string title = 1; int64 id = 2;"]):
        contract.write_text(f'syntax = "proto3";\npackage talk.v1;\nmessage Talk {{ {field} }}\n')
        talk = descriptor_set(contract).file[-1].message_type[0]
        assert len(talk.field) == version + 1  # nothing registered in this process stands in the way


def test_descriptor_set_with_imports_puts_them_before_the_contract(tmp_path):
    contract = tmp_path / "talk.proto"
    contract.write_text('syntax = "proto3";\nimport "google/protobuf/timestamp.proto";\n'
                        "message Talk { google.protobuf.Timestamp starts_at = 1; }\n")
    assert [f.name for f in descriptor_set(contract).file] == ["talk.proto"]
    assert [f.name for f in descriptor_set(contract, include_imports=True).file] == [
        "google/protobuf/timestamp.proto", "talk.proto"]


def test_descriptor_set_of_a_broken_contract_raises_protocs_lines_only(tmp_path):
    contract = tmp_path / "profile.proto"
    contract.write_text("package p;\nmessage P {\n  int64 age = 3;\n}\n")  # no syntax line: proto2 wants labels
    with pytest.raises(ProtoError) as raised:
        descriptor_set(contract)
    lines = str(raised.value).splitlines()
    assert lines[1:] == [f'{contract}:3:3: Expected "required", "optional", or "repeated".'], lines
    assert protoc_location(raised.value) == ("profile.proto", 3)


def test_protoc_message_keeps_file_line_and_text_but_no_folders(tmp_path):
    contract = tmp_path / "my_v3" / "profile.proto"
    contract.parent.mkdir()
    contract.write_text('syntax = "proto3";\nmessage P {\n  reserved 3;\n  int64 age = 3;\n}\n')
    with pytest.raises(ProtoError) as raised:
        descriptor_set(contract)
    message = protoc_message(raised.value)
    assert message.startswith('profile.proto:3:12: Field "age" uses reserved number 3.'), message
    assert str(tmp_path) not in message and "/" not in message.split(":")[0]


def test_descriptor_set_of_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        descriptor_set(tmp_path / "nothing.proto")


def test_another_package_name_regenerates_and_the_stamp_names_it(contracts, tmp_path):
    """A call with another package name once (the walker's generate(..., "users")) must not stick."""
    package_dir = tmp_path / "out" / "mycontracts"
    generate(contracts, package_dir, "users")
    assert "from users import users_pb2" in (package_dir / "users_pb2_grpc.py").read_text()
    assert generate(contracts, package_dir, "mycontracts") is True
    assert "from mycontracts import users_pb2" in (package_dir / "users_pb2_grpc.py").read_text()
    assert read_stamp(package_dir).package == "mycontracts"
    assert generate(contracts, package_dir, "mycontracts") is False


def test_protoc_message_keeps_an_imports_folders_and_the_line_that_imports_it(tmp_path):
    contract = tmp_path / "users.proto"
    contract.write_text('syntax = "proto3";\npackage users.v1;\nimport "google/api/annotations.proto";\n')
    with pytest.raises(ProtoError) as raised:
        descriptor_set(contract)
    assert protoc_message(raised.value).splitlines() == [
        "google/api/annotations.proto: File not found.",
        'users.proto:3:1: Import "google/api/annotations.proto" was not found or had errors.']


def test_well_known_types_are_those_of_the_files_protoc_ships():
    types = well_known_types()
    assert types["Timestamp"] == "google/protobuf/timestamp.proto"
    assert types["DoubleValue"] == "google/protobuf/wrappers.proto" and types["Empty"] == "google/protobuf/empty.proto"
    assert "TimeStamp" not in types and "DateTime" not in types


def test_the_recorded_fingerprints_are_those_of_the_contracts_in_protos():
    """workshop/shipped_contracts.py tells the kit's contracts from ones edited in place: it must follow protos/."""
    now = {path.name: shipped_contracts.fingerprint(path) for path in sorted(PROTOS.glob("*.proto"))}
    assert now == shipped_contracts.FINGERPRINTS, (
        "a contract in protos/ changed, or one was added or removed. If that was meant, set FINGERPRINTS in "
        f"workshop/shipped_contracts.py to:\n{pformat(now)}")


def test_a_checkout_with_windows_line_endings_is_as_shipped(tmp_path):
    crlf = tmp_path / "users.proto"
    crlf.write_bytes((PROTOS / "users.proto").read_bytes().replace(b"\n", b"\r\n"))
    assert shipped_contracts.is_as_shipped(crlf)
    crlf.write_bytes(crlf.read_bytes() + b"// one line more\r\n")
    assert not shipped_contracts.is_as_shipped(crlf)


def test_contracts_not_as_shipped_are_named_changed_missing_or_added(contracts):
    assert shipped_contracts.not_as_shipped(contracts) == {}
    (contracts / "users.proto").write_text((contracts / "users.proto").read_text() + "message Extra {}\n")
    (contracts / "chat.proto").unlink()
    (contracts / "mine.proto").write_text('syntax = "proto3";\n')
    assert shipped_contracts.not_as_shipped(contracts) == {"chat.proto": "missing", "mine.proto": "added",
                                                           "users.proto": "changed"}
