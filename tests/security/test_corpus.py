"""Every file of the malicious corpus is refused with a located `SpecError`, quickly, and runs nothing."""

from __future__ import annotations

import re

import pytest
from hostile import CORPUS, CORPUS_FILES, PWNED, located_error
from work import calls

import netspec

# The first error each hostile file must produce: the refusal happens for the right reason.
EXPECTED = {
    "alias_bomb.yaml": "NS017", "alias_bomb_in_spec.yaml": "NS017", "alias_self.yaml": "NS019",
    "ansi_escape.yaml": "NS141", "block_import_path.yaml": "NS142", "bom_tabs.yaml": "NS005",
    "codegen_dim_symbol.yaml": "NS161", "codegen_input_quote.yaml": "NS114", "codegen_newline_name.yaml": "NS114",
    "codegen_node_name.yaml": "NS114", "codegen_pad_mode.yaml": "NS147", "codegen_padding_mode.yaml": "NS147",
    "control_chars.yaml": "NS141", "deep_block.yaml": "NS016", "deep_flow.yaml": "NS016", "deep_json.json": "NS016",
    "duplicate_json_keys.json": "NS009", "duplicate_keys.yaml": "NS009", "empty.yaml": "NS001",
    "expansion_bomb.yaml": "NS134", "expansion_empty_blocks.yaml": "NS134", "expansion_expr_work.yaml": "NS131",
    "expansion_many_args.yaml": "NS144", "expansion_repeat_expr.yaml": "NS134", "expr_attribute.yaml": "NS131",
    "expr_call.yaml": "NS131", "expr_deep.yaml": "NS131", "expr_dunder_name.yaml": "NS131",
    "expr_float_overflow.yaml": "NS131", "expr_lambda.yaml": "NS131", "expr_list_bomb.yaml": "NS131",
    "expr_power_tower.yaml": "NS131", "expr_string_bomb.yaml": "NS131", "extends_absolute.yaml": "NS104",
    "extends_cycle_a.yaml": "NS105", "extends_cycle_b.yaml": "NS105", "extends_dotdot.yaml": "NS104",
    "extends_home.yaml": "NS104", "extends_self.yaml": "NS105", "float_inf.yaml": "NS013", "float_nan.yaml": "NS013",
    "float_overflow.yaml": "NS013", "github_command.yaml": "NS141", "huge_integer.yaml": "NS014",
    "invalid_utf8.txt": "NS003", "json_nan.json": "NS013", "lax_bool_for_int.yaml": "NS146",
    "lax_string_for_int.yaml": "NS146", "merge_key.yaml": "NS008", "merge_key_smuggle.yaml": "NS008",
    "mixed_tabs.yaml": "NS005", "multi_document.yaml": "NS006", "mutual_blocks.yaml": "NS143",
    "negative_dim.yaml": "NS112", "negative_size.yaml": "NS147", "not_a_mapping.yaml": "NS102",
    "nul_bytes.txt": "NS004", "op_builtins_eval.yaml": "NS141", "op_dunder.yaml": "NS141",
    "op_dunder_class.yaml": "NS141", "op_os_system.yaml": "NS141", "op_torch_load.yaml": "NS141",
    "recursive_block.yaml": "NS143", "tag_custom.yaml": "NS007", "tag_directive.yaml": "NS007",
    "tag_module.yaml": "NS007", "tag_name.yaml": "NS007", "tag_object_apply.yaml": "NS007",
    "tag_object_new.yaml": "NS007", "tag_on_key.yaml": "NS007", "utf16.txt": "NS003", "yaml11_no.yaml": "NS146",
    "yaml11_octal.yaml": "NS012", "yaml11_sexagesimal.yaml": "NS146", "zero_channels.yaml": "NS147",
}  # fmt: skip
# Files added with the second review: the first error's code, line and column.
LOCATED = {
    "name_keyword_node.yaml": ("NS114", 6, 3), "name_lambda_block.yaml": ("NS114", 5, 3),
    "name_module_attribute.yaml": ("NS114", 6, 3), "name_number_input.yaml": ("NS114", 5, 3),
    "name_reserved_param.yaml": ("NS114", 3, 10), "name_trailing_newline.yaml": ("NS114", 3, 10),
    "recursion_disabled_chain.yaml": ("NS151", 5, 35), "recursion_disabled_repeat.yaml": ("NS151", 7, 40),
    "expansion_disabled_blocks.yaml": ("NS134", 11, 32),
}  # fmt: skip
EXPECTED.update({name: code for name, (code, _, _) in LOCATED.items()})
# Terminal control: ESC, BEL, backspace, carriage return and the C1 range; only `\n` separates lines.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def test_every_corpus_file_has_an_expected_code() -> None:
    assert sorted(EXPECTED) == [p.name for p in CORPUS_FILES]


# Stopped by the expressions' shared work budget, which allows millions of cheap calls (and is
# tested in test_expressions.py); the others are refused after a small spec's worth of work.
EXPRESSION_BUDGETED = {"expansion_expr_work.yaml"}


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_file_is_refused_with_a_location(path) -> None:
    PWNED.unlink(missing_ok=True)
    err = located_error(lambda: netspec.validate(netspec.load(path)))
    assert err.errors[0].code == EXPECTED[path.name], str(err)
    if path.name not in EXPRESSION_BUDGETED:
        work, _ = calls(lambda: netspec.validate(netspec.load(path)))
        assert work < 500_000, f"{path.name}: {work:,} calls"  # a small spec's worth, whatever it asks for
    assert not PWNED.exists()
    assert not _CONTROL.search(str(err)), repr(str(err))


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_corpus_text_is_refused_the_same_way(path) -> None:
    err = located_error(lambda: netspec.loads(path.read_bytes()))
    if not path.name.startswith("extends_"):  # text has no folder: `extends` of a file is refused outright
        assert err.errors[0].code == EXPECTED[path.name], str(err)
    assert not PWNED.exists()


@pytest.mark.parametrize("name", sorted(LOCATED))
def test_corpus_file_is_refused_at_its_place(name: str) -> None:
    err = located_error(lambda: netspec.validate(netspec.load(CORPUS / name)))
    first = err.errors[0]
    assert (first.code, first.line, first.column) == LOCATED[name], str(err)
