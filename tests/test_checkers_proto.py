"""check_talk (exercise 2.1) and protoc_message: what a learner sees for a contract, right or wrong."""
import pytest
from exercises import answer, skeleton, write_cell

from workshop.checkers.proto import check_talk, compile_contract
from workshop.codegen import ProtoError, protoc_message

SOLUTION = "02_1_talk.py"


@pytest.fixture(autouse=True)
def lenient_checkers(monkeypatch):
    monkeypatch.delenv("WORKSHOP_STRICT_CHECKS", raising=False)


def check(source: str, folder):
    return check_talk(write_cell(source, folder))


def wrong(replacements: dict) -> str:
    """The answer with some of its text replaced: a typical mistake."""
    source = answer(SOLUTION)
    for old, new in replacements.items():
        assert old in source, f"the answer no longer contains {old!r}"
        source = source.replace(old, new)
    return source


def failed(result) -> list[str]:
    return [case.label for case in result.cases if not case.passed]


def test_the_answer_passes_every_case(tmp_path):
    result = check(answer(SOLUTION), tmp_path)
    assert result.all_passed, repr(result)
    assert len(result.cases) == 8


def test_the_shipped_skeleton_compiles_but_misses_the_enum_and_four_fields(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert not result.all_passed
    assert result["my_talk.proto compiles"].passed
    assert len(failed(result)) == 5, repr(result)


def test_a_broken_contract_shows_protocs_line_and_nothing_else(tmp_path):
    broken = wrong({"string title = 2;": "string title = 2"})
    result = check(broken, tmp_path)
    assert len(result.cases) == 1 and not result.all_passed
    got = result["my_talk.proto compiles"].got
    # protoc notices the missing ";" where the next line starts (the %%writefile line is not in the file)
    next_line = broken.splitlines().index("  string title = 2") + 1
    assert f'my_talk.proto:{next_line}:3: Expected ";"' in got, got
    assert str(tmp_path) not in got and "Traceback" not in repr(result)


def test_a_missing_file_says_to_run_the_writefile_cell(tmp_path):
    result = check_talk(tmp_path / "my_talk.proto")
    assert not result.all_passed
    assert "%%writefile" in result.cases[0].hint


def test_wrong_field_numbers_are_reported_with_what_numbers_mean(tmp_path):
    result = check(wrong({"Level level = 4;": "Level level = 5;",
                          "google.protobuf.Timestamp starts_at = 5;": "google.protobuf.Timestamp starts_at = 4;"}),
                   tmp_path)
    assert failed(result) == ["Talk.level: Level = 4", "Talk.starts_at: google.protobuf.Timestamp = 5"]
    level = result["Talk.level: Level = 4"]
    assert "number 5; expected 4" in level.got and "not a default" in level.hint


def test_a_single_string_where_a_list_is_asked_for_fails_speakers_only(tmp_path):
    result = check(wrong({"repeated string speakers": "string speakers"}), tmp_path)
    assert failed(result) == ["Talk.speakers: repeated string = 3"]
    assert "`string`; expected `repeated string`" in result["Talk.speakers: repeated string = 3"].got


def test_plain_types_instead_of_the_enum_and_timestamp_are_named(tmp_path):
    result = check(wrong({"Level level = 4;": "int32 level = 4;",
                          "google.protobuf.Timestamp starts_at": "int64 starts_at"}), tmp_path)
    assert failed(result) == ["Talk.level: Level = 4", "Talk.starts_at: google.protobuf.Timestamp = 5"]
    assert "`int32`" in result["Talk.level: Level = 4"].got


def test_enum_values_without_the_prefix_fail_with_the_reason_for_it(tmp_path):
    result = check(wrong({"LEVEL_": ""}), tmp_path)
    assert failed(result) == ["enum Level: LEVEL_UNSPECIFIED = 0 … LEVEL_ADVANCED = 3"]
    assert "namespace" in result.cases[2].hint


def test_optional_where_a_plain_field_is_asked_for_is_pointed_out(tmp_path):
    result = check(wrong({"string title = 2;": "optional string title = 2;"}), tmp_path)
    assert failed(result) == ["Talk.title: string = 2"]
    assert "optional" in result["Talk.title: string = 2"].hint


def test_a_wrong_package_and_message_name_fail_their_own_cases(tmp_path):
    result = check(wrong({"package conference.v1;": "package conference;", "message Talk": "message Session"}),
                   tmp_path)
    assert "package conference.v1" in failed(result)
    assert "there is no message Talk (messages found: Session)" in result["Talk.id: int64 = 1"].got


def test_an_enum_nested_in_talk_is_accepted(tmp_path):
    source = answer(SOLUTION)
    enum = source[source.index("// How much"):source.index("// One talk")]
    nested = source.replace(enum, "").replace("message Talk {\n", "message Talk {\n" + enum)
    assert check(nested, tmp_path).all_passed


def test_strict_mode_raises_on_a_failing_check(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="strict mode"):
        check(skeleton(SOLUTION), tmp_path)


def test_protoc_message_keeps_file_line_and_text_but_no_folders(tmp_path):
    contract = tmp_path / "my_v3" / "profile.proto"
    contract.parent.mkdir()
    contract.write_text('syntax = "proto3";\nmessage P {\n  reserved 3;\n  int64 age = 3;\n}\n')
    with pytest.raises(ProtoError) as raised:
        compile_contract(contract)
    message = protoc_message(raised.value)
    assert message.startswith('profile.proto:3:12: Field "age" uses reserved number 3.'), message
    assert str(tmp_path) not in message and "/" not in message.split(":")[0]
