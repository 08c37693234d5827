"""check_talk (exercise 2.1): each rule written beside the checker, broken alone by a wrong answer."""
import pytest
from exercises import answer, skeleton, write_cell, wrong_in_places

from workshop.checkers.proto import RULES, check_talk

SOLUTION = "02_1_talk.py"
COMPILES = "my_talk.proto compiles"
LEVEL_AT_TOP = "enum Level at the top level of the file (conference.v1.Level)"
TALK = "message Talk (conference.v1.Talk)"
NOTHING_ELSE = "nothing else: no other field, message, enum, service or option, JSON names as protoc makes them"


def check(source: str, folder):
    return check_talk(write_cell(source, folder))


def wrong(replacements: dict) -> str:
    """The answer with some of its text replaced: a typical mistake."""
    return wrong_in_places(SOLUTION, replacements)


def failed(result) -> list[str]:
    return [case.label for case in result.cases if not case.passed]


def test_the_cases_are_the_rules_written_beside_the_checker(tmp_path):
    result = check(answer(SOLUTION), tmp_path)
    assert result.all_passed, repr(result)
    assert [case.label for case in result.cases] == [COMPILES, *RULES]


def test_the_shipped_skeleton_compiles_but_misses_the_enum_and_four_fields(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert failed(result) == [LEVEL_AT_TOP, "Level's four values: LEVEL_UNSPECIFIED = 0 … LEVEL_ADVANCED = 3",
                              "Talk.title: string = 2", "Talk.speakers: repeated string = 3",
                              "Talk.level: Level = 4", "Talk.starts_at: google.protobuf.Timestamp = 5"], repr(result)
    assert "`string title = 2;`" in result["Talk.title: string = 2"].hint


# Each wrong answer breaks one rule: (the rule, what the answer gets wrong, words its hint must hold)
ONE_RULE_BROKEN = [
    ('syntax = "proto3"', {'syntax = "proto3";': 'edition = "2023";'}, 'syntax = "proto3";'),
    ("package conference.v1", {"package conference.v1;": "package conference;"}, "package conference.v1;"),
    ("Level's four values: LEVEL_UNSPECIFIED = 0 … LEVEL_ADVANCED = 3", {"LEVEL_ADVANCED": "LEVEL_EXPERT"},
     "LEVEL_ADVANCED = 3"),
    ("Level's four values: LEVEL_UNSPECIFIED = 0 … LEVEL_ADVANCED = 3", {"LEVEL_": ""}, "namespace"),
    ("Level's four values: LEVEL_UNSPECIFIED = 0 … LEVEL_ADVANCED = 3",
     {name: name.lower() for name in ("LEVEL_UNSPECIFIED", "LEVEL_BEGINNER", "LEVEL_INTERMEDIATE", "LEVEL_ADVANCED")},
     "written in capitals"),
    ("Level's four values: LEVEL_UNSPECIFIED = 0 … LEVEL_ADVANCED = 3",
     {"LEVEL_UNSPECIFIED = 0;\n": "", "LEVEL_BEGINNER = 1": "LEVEL_BEGINNER = 0",
      "LEVEL_INTERMEDIATE = 2": "LEVEL_INTERMEDIATE = 1", "LEVEL_ADVANCED = 3": "LEVEL_ADVANCED = 2"},
     'zero means "not set"'),
    ("Talk.id: int64 = 1", {"int64 id = 1;": "int32 id = 1;"}, "int64"),
    ("Talk.title: string = 2", {"string title = 2;": "optional string title = 2;"}, "leave out `optional`"),
    ("Talk.speakers: repeated string = 3", {"repeated string speakers": "string speakers"}, "repeated"),
    ("Talk.speakers: repeated string = 3", {"repeated string speakers": "map<string, string> speakers"},
     "a map is a dict, one value per key; a list is one field marked `repeated`: `repeated string speakers = 3;`"),
    ("Talk.level: Level = 4", {"Level level = 4;": "int32 level = 4;"}, "the enum's name, Level"),
    ("Talk.starts_at: google.protobuf.Timestamp = 5", {"google.protobuf.Timestamp starts_at": "int64 starts_at"},
     "google.protobuf.Timestamp"),
    ("Talk.starts_at: google.protobuf.Timestamp = 5", {"starts_at = 5;": "starts_at = 6;"},
     "each field keeps the number the spec gives it: write `= 5` here"),
    (NOTHING_ELSE, {"string title = 2;": 'string title = 2 [json_name = "name"];'}, "nothing else"),
    (NOTHING_ELSE, {"starts_at = 5;": 'starts_at = 5 [json_name = "startsAt"];'}, "nothing else"),
    (NOTHING_ELSE, {"string title = 2;": "string title = 2;\n  string room = 6;"}, "nothing else"),
    (NOTHING_ELSE, {"string title = 2;": "string title = 2 [deprecated = true];"}, "nothing else"),
    (NOTHING_ELSE, {"int64 id = 1;": "int64 id = 1;\n  reserved 6;"}, "nothing else"),
    (NOTHING_ELSE, {"package conference.v1;": 'package conference.v1;\noption java_package = "x";'}, "nothing else"),
    (NOTHING_ELSE, {"// One talk": "message Speaker { string name = 1; }\n// One talk"}, "nothing else"),
    (NOTHING_ELSE, {'import "google/protobuf/timestamp.proto";': 'import "google/protobuf/timestamp.proto";\n'
                    'import "google/protobuf/empty.proto";'}, "nothing else"),
    (NOTHING_ELSE, {'import "google': 'import public "google'}, "nothing else"),
    (NOTHING_ELSE, {'import "google': 'import weak "google'}, "nothing else"),
    (NOTHING_ELSE, {'import "google/protobuf/timestamp.proto";': 'import "google/protobuf/timestamp.proto";\n'
                    'import "google/protobuf/descriptor.proto";\n'
                    "extend google.protobuf.FieldOptions { string unit = 50001; }"}, "nothing else"),
    (NOTHING_ELSE, {"enum Level {\n": "enum Level {\n  option deprecated = true;\n"}, "nothing else"),
    (NOTHING_ELSE, {"LEVEL_BEGINNER = 1;": "LEVEL_BEGINNER = 1 [deprecated = true];"}, "nothing else"),
    (NOTHING_ELSE, {"LEVEL_ADVANCED = 3;": "LEVEL_ADVANCED = 3;\n  reserved 4 to max;"}, "nothing else"),
    (NOTHING_ELSE, {"LEVEL_ADVANCED = 3;": 'LEVEL_ADVANCED = 3;\n  reserved "LEVEL_EXPERT";'}, "nothing else"),
]


@pytest.mark.parametrize(("rule", "mistake", "hint"), ONE_RULE_BROKEN,
                         ids=[f"{rule}: {next(iter(mistake.values()))}" for rule, mistake, _ in ONE_RULE_BROKEN])
def test_a_wrong_answer_that_breaks_one_rule_fails_that_case_alone(rule, mistake, hint, tmp_path):
    result = check(wrong(mistake), tmp_path)
    assert failed(result) == [rule], repr(result)
    assert hint in result[rule].hint, repr(result)


def test_an_enum_nested_in_talk_fails_the_top_level_rule_and_names_its_full_name(tmp_path):
    source = answer(SOLUTION)
    enum = source[source.index("// How much"):source.index("// One talk")]
    nested = source.replace(enum, "").replace("message Talk {\n", "message Talk {\n" + enum)
    result = check(nested, tmp_path)
    assert failed(result) == [LEVEL_AT_TOP], repr(result)
    assert "conference.v1.Talk.Level" in result[LEVEL_AT_TOP].got
    assert "top level" in result[LEVEL_AT_TOP].hint


def test_an_enum_copied_into_talk_instead_of_moved_fails_the_level_field_alone(tmp_path):
    source = answer(SOLUTION)
    enum = source[source.index("// How much"):source.index("// One talk")]
    copied = source.replace("message Talk {\n", "message Talk {\n" + enum)  # the top-level one stays too
    result = check(copied, tmp_path)
    assert failed(result) == ["Talk.level: Level = 4"], repr(result)
    assert "level is of type conference.v1.Talk.Level, not the Level at the top level" in (
        result["Talk.level: Level = 4"].got)
    assert "delete the copy" in result["Talk.level: Level = 4"].hint


@pytest.mark.parametrize(("id_type", "why"), [("sint64", "zig-zag"), ("uint64", "unsigned"),
                                              ("fixed64", "another wire type")])
def test_another_64_bit_integer_for_the_id_is_told_the_spec_says_int64_and_what_differs(id_type, why, tmp_path):
    result = check(wrong({"int64 id = 1;": f"{id_type} id = 1;"}), tmp_path)
    assert failed(result) == ["Talk.id: int64 = 1"], repr(result)
    assert "the spec asks for `int64`" in result["Talk.id: int64 = 1"].hint
    assert why in result["Talk.id: int64 = 1"].hint


def test_a_json_name_written_out_is_named_though_protoc_would_make_the_same(tmp_path):
    result = check(wrong({"int64 id = 1;": 'int64 id = 1 [json_name = "id"];'}), tmp_path)
    assert failed(result) == [NOTHING_ELSE], repr(result)
    assert 'id [json_name = "id"]' in result[NOTHING_ELSE].got


def test_a_map_for_the_speakers_is_named_as_a_map_not_as_a_wrong_type(tmp_path):
    result = check(wrong({"repeated string speakers": "map<string, string> speakers"}), tmp_path)
    speakers = result["Talk.speakers: repeated string = 3"]
    assert speakers.got == "speakers is a map; expected repeated string", repr(result)
    assert "a text field" not in speakers.hint


def test_a_talk_nested_in_another_message_fails_the_talk_rule_alone_and_names_its_full_name(tmp_path):
    source = answer(SOLUTION)
    talk = source[source.index("// One talk"):]
    nested = source.replace(talk, "message Schedule {\n" + talk + "}\n")
    result = check(nested, tmp_path)
    assert failed(result) == [TALK], repr(result)  # its fields are still judged, and are right
    assert result[TALK].got == ("Talk is declared inside message Schedule, "
                                "so its full name is conference.v1.Schedule.Talk")
    assert "top level" in result[TALK].hint and "exactly Talk" not in result[TALK].hint


def test_a_message_with_another_name_fails_the_talk_rule_and_its_fields_point_there(tmp_path):
    result = check(wrong({"message Talk": "message Session"}), tmp_path)
    fields = [label for label in RULES if label.startswith("Talk.")]
    assert failed(result) == [TALK, *fields], repr(result)
    assert "messages found: Session" in result[TALK].got and "exactly Talk" in result[TALK].hint
    assert all(result[label].got == "there is no message Talk yet" for label in fields)


def test_a_broken_contract_shows_protocs_line_and_nothing_else(tmp_path):
    broken = wrong({"string title = 2;": "string title = 2"})
    result = check(broken, tmp_path)
    assert [case.label for case in result.cases] == [COMPILES] and not result.all_passed
    got = result[COMPILES].got
    # protoc notices the missing ";" where the next line starts (the %%writefile line is not in the file)
    next_line = broken.splitlines().index("  string title = 2") + 1
    assert got == f'protoc says: my_talk.proto:{next_line}:3: Expected ";".', got
    assert "Traceback" not in repr(result)


def test_a_contract_without_its_syntax_line_is_told_why_fields_need_labels(tmp_path):
    result = check(wrong({'syntax = "proto3";': ""}), tmp_path)
    assert failed(result) == [COMPILES]
    assert 'Expected "required", "optional", or "repeated"' in result[COMPILES].got
    assert "absl" not in repr(result) and 'syntax = "proto3";' in result[COMPILES].hint


def test_a_missing_import_is_told_which_file_to_import(tmp_path):
    result = check(wrong({'import "google/protobuf/timestamp.proto";': ""}), tmp_path)
    assert failed(result) == [COMPILES]
    assert '"google.protobuf.Timestamp" is not defined' in result[COMPILES].got
    assert 'import "google/protobuf/timestamp.proto";' in result[COMPILES].hint


@pytest.mark.parametrize("id_type", ["int32", "string"])
def test_a_narrower_or_text_id_is_told_why_int64_without_other_64_bit_types(id_type, tmp_path):
    hint = check(wrong({"int64 id = 1;": f"{id_type} id = 1;"}), tmp_path)["Talk.id: int64 = 1"].hint
    assert "`int64 id = 1;`" in hint and "sint64" not in hint and "64-bit integer too" not in hint
    why = "can grow past what int32 holds" if id_type == "int32" else "a whole number, and string holds something else"
    assert why in hint


def test_an_extension_is_named_as_what_it_declares(tmp_path):
    extended = wrong({'import "google/protobuf/timestamp.proto";': 'import "google/protobuf/timestamp.proto";\n'
                      'import "google/protobuf/descriptor.proto";\n'
                      "extend google.protobuf.FieldOptions { string unit = 50001; }"})
    result = check(extended, tmp_path)
    assert "extend google.protobuf.FieldOptions { unit = 50001 }" in result[NOTHING_ELSE].got, repr(result)


def test_a_missing_file_says_to_run_the_writefile_cell(tmp_path):
    result = check_talk(tmp_path / "my_talk.proto")
    assert failed(result) == [COMPILES]
    assert "%%writefile" in result[COMPILES].hint


def test_checking_again_after_a_fix_sees_the_fix(tmp_path):
    assert not check(skeleton(SOLUTION), tmp_path).all_passed
    assert check(answer(SOLUTION), tmp_path).all_passed


def test_strict_mode_raises_on_a_failing_check(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_STRICT_CHECKS", "1")
    with pytest.raises(AssertionError, match="strict mode"):
        check(skeleton(SOLUTION), tmp_path)


STARTS_AT = "Talk.starts_at: google.protobuf.Timestamp = 5"
IMPORT = 'import "google/protobuf/timestamp.proto";'


def test_swapped_field_numbers_are_told_each_field_keeps_the_number_the_spec_gives_it(tmp_path):
    result = check(wrong({"string title = 2;": "string title = 3;",
                          "repeated string speakers = 3;": "repeated string speakers = 2;"}), tmp_path)
    assert failed(result) == ["Talk.title: string = 2", "Talk.speakers: repeated string = 3"], repr(result)
    hint = result["Talk.title: string = 2"].hint
    assert "each field keeps the number the spec gives it: write `= 2` here; 3 is the number of speakers" in hint
    assert "default value" not in hint


def test_a_timestamp_of_ones_own_in_the_notebooks_folder_fails_starts_at_alone(tmp_path):
    """The walker's homemade timestamp.proto (package google.protobuf; message Timestamp) next to my_talk.proto."""
    (tmp_path / "timestamp.proto").write_text('syntax = "proto3";\npackage google.protobuf;\n'
                                              "message Timestamp {\n  int64 seconds = 1;\n  int32 nanos = 2;\n}\n")
    result = check(wrong({IMPORT: 'import "timestamp.proto";'}), tmp_path)
    assert failed(result) == [STARTS_AT], repr(result)  # the import is starts_at's business, not "something else"
    assert result[STARTS_AT].got == ('starts_at\'s google.protobuf.Timestamp is not the well-known one: it comes '
                                     'from "timestamp.proto", not from "google/protobuf/timestamp.proto"')
    assert f"{IMPORT[:-1]} in its place and delete the Timestamp you wrote" in result[STARTS_AT].hint


def test_a_timestamp_of_ones_own_under_the_well_known_files_name_does_not_replace_it(tmp_path):
    """protoc looks among the well-known types first: google/protobuf/timestamp.proto beside the contract is unread."""
    shadow = tmp_path / "google" / "protobuf" / "timestamp.proto"
    shadow.parent.mkdir(parents=True)
    shadow.write_text('syntax = "proto3";\npackage google.protobuf;\nmessage Timestamp { string text = 1; }\n')
    assert check(answer(SOLUTION), tmp_path).all_passed


@pytest.mark.parametrize("written", ["TimeStamp", "timestamp", "DateTime"])
def test_a_misspelt_well_known_type_is_told_the_real_one_and_that_names_are_case_sensitive(written, tmp_path):
    """The walker's `google.protobuf.TimeStamp` with the right import: no file named after the misspelling."""
    result = check(wrong({"google.protobuf.Timestamp starts_at": f"google.protobuf.{written} starts_at"}), tmp_path)
    assert failed(result) == [COMPILES], repr(result)
    hint = result[COMPILES].hint
    assert f"google.protobuf has no type {written}; the well-known type closest to it is Timestamp, from " \
           '"google/protobuf/timestamp.proto"' in hint, hint
    assert "case-sensitive" in hint and "time_stamp" not in hint and "date_time" not in hint


def test_a_well_known_type_without_its_import_is_told_the_file_that_declares_it(tmp_path):
    """The file comes from what protoc ships: DoubleValue is in wrappers.proto, not in a double_value.proto."""
    result = check(wrong({"google.protobuf.Timestamp starts_at": "google.protobuf.DoubleValue starts_at"}), tmp_path)
    assert failed(result) == [COMPILES], repr(result)
    assert 'import "google/protobuf/wrappers.proto";' in result[COMPILES].hint


@pytest.mark.parametrize("imported", ["google/protobuf/timestamps.proto", "google/protobuf/time_stamp.proto"])
def test_a_misspelt_import_shows_its_folders_and_line_and_the_file_it_meant(imported, tmp_path):
    source = wrong({IMPORT: f'import "{imported}";'})
    result = check(source, tmp_path)
    assert failed(result) == [COMPILES], repr(result)
    line = source.splitlines().index(f'import "{imported}";')  # the %%writefile line is not in the file
    assert result[COMPILES].got == f'protoc says: my_talk.proto:{line}:1: Import "{imported}" was not found or had ' \
                                   "errors.", result[COMPILES].got
    assert 'the well-known file closest to it is "google/protobuf/timestamp.proto"' in result[COMPILES].hint


def test_an_option_protoc_refuses_is_named_not_the_line_protoc_points_at(tmp_path):
    """protoc reports `option allow_alias = false;` where the enum ends, at the next declaration's line."""
    result = check(wrong({"enum Level {\n": "enum Level {\n  option allow_alias = false;\n"}), tmp_path)
    assert failed(result) == [COMPILES], repr(result)
    assert "delete `option allow_alias = false;` from Level" in result[COMPILES].hint
    assert "the one just before it" not in result[COMPILES].hint
