"""Every file of the malicious corpus is refused with a located `SpecError`, quickly, and runs nothing."""

from __future__ import annotations

import re

import pytest
from hostile import CORPUS, CORPUS_FILES, PWNED, located_error
from work import calls

import netspec

# The first error of each hostile file: its code, line and column (the refusal happens for the right
# reason, at the right place).
LOCATED = {
    "alias_bomb.yaml": ("NS017", 5, 36), "alias_bomb_in_spec.yaml": ("NS017", 8, 45),
    "alias_self.yaml": ("NS019", 1, 11), "ansi_escape.yaml": ("NS141", 5, 11),
    "block_import_path.yaml": ("NS142", 5, 14), "bom_tabs.yaml": ("NS005", 5, 1),
    "codegen_dim_symbol.yaml": ("NS161", 3, 20), "codegen_input_quote.yaml": ("NS114", 3, 10),
    "codegen_newline_name.yaml": ("NS114", 5, 3), "codegen_node_name.yaml": ("NS114", 5, 3),
    "codegen_pad_mode.yaml": ("NS147", 5, 41), "codegen_padding_mode.yaml": ("NS147", 5, 66),
    "control_chars.yaml": ("NS141", 5, 11), "deep_block.yaml": ("NS016", 101, 201),
    "deep_flow.yaml": ("NS016", 1, 1001), "deep_json.json": ("NS016", 1, 501),
    "duplicate_json_keys.json": ("NS009", 1, 29), "duplicate_keys.yaml": ("NS009", 6, 3),
    "empty.yaml": ("NS001", 1, 1), "expansion_bomb.yaml": ("NS134", 7, 39),
    "expansion_disabled_blocks.yaml": ("NS134", 11, 32), "expansion_empty_blocks.yaml": ("NS134", 7, 29),
    "expansion_expr_work.yaml": ("NS131", 5, 231), "expansion_many_args.yaml": ("NS144", 5, 3),
    "expansion_repeat_expr.yaml": ("NS134", 5, 25), "expr_attribute.yaml": ("NS131", 6, 37),
    "expr_call.yaml": ("NS131", 5, 36), "expr_deep.yaml": ("NS131", 5, 86), "expr_dunder_name.yaml": ("NS131", 5, 36),
    "expr_float_overflow.yaml": ("NS131", 5, 26), "expr_lambda.yaml": ("NS131", 5, 37),
    "expr_list_bomb.yaml": ("NS131", 5, 36), "expr_power_tower.yaml": ("NS131", 5, 36),
    "expr_string_bomb.yaml": ("NS131", 5, 69), "extends_absolute.yaml": ("NS104", 4, 10),
    "extends_cycle_a.yaml": ("NS105", 4, 10), "extends_cycle_b.yaml": ("NS105", 4, 10),
    "extends_dotdot.yaml": ("NS104", 4, 10), "extends_home.yaml": ("NS104", 4, 10),
    "extends_self.yaml": ("NS105", 4, 10), "float_inf.yaml": ("NS013", 5, 23), "float_nan.yaml": ("NS013", 5, 23),
    "float_overflow.yaml": ("NS013", 5, 23), "github_command.yaml": ("NS141", 5, 11),
    "huge_integer.yaml": ("NS014", 5, 33), "invalid_utf8.txt": ("NS003", 5, 12), "json_nan.json": ("NS013", 1, 106),
    "lax_bool_for_int.yaml": ("NS146", 5, 33), "lax_string_for_int.yaml": ("NS146", 5, 33),
    "merge_key.yaml": ("NS008", 7, 5), "merge_key_smuggle.yaml": ("NS008", 5, 1), "mixed_tabs.yaml": ("NS005", 6, 1),
    "multi_document.yaml": ("NS006", 6, 1), "mutual_blocks.yaml": ("NS143", 6, 30),
    "name_keyword_node.yaml": ("NS114", 6, 3), "name_lambda_block.yaml": ("NS114", 5, 3),
    "name_module_attribute.yaml": ("NS114", 6, 3), "name_number_input.yaml": ("NS114", 5, 3),
    "name_reserved_param.yaml": ("NS114", 3, 10), "name_trailing_newline.yaml": ("NS114", 3, 10),
    "negative_dim.yaml": ("NS112", 3, 17), "negative_size.yaml": ("NS147", 5, 33),
    "not_a_mapping.yaml": ("NS102", 1, 1), "nul_bytes.txt": ("NS004", 5, 8),
    "op_builtins_eval.yaml": ("NS141", 5, 11), "op_dunder.yaml": ("NS141", 5, 11),
    "op_dunder_class.yaml": ("NS141", 5, 11), "op_os_system.yaml": ("NS141", 5, 11),
    "op_torch_load.yaml": ("NS141", 5, 11), "recursion_disabled_chain.yaml": ("NS151", 5, 35),
    "recursion_disabled_repeat.yaml": ("NS151", 7, 40), "recursive_block.yaml": ("NS143", 5, 30),
    "tag_custom.yaml": ("NS007", 5, 6), "tag_directive.yaml": ("NS007", 7, 6), "tag_module.yaml": ("NS007", 5, 11),
    "tag_name.yaml": ("NS007", 5, 11), "tag_object_apply.yaml": ("NS007", 5, 6),
    "tag_object_new.yaml": ("NS007", 5, 6), "tag_on_key.yaml": ("NS007", 5, 3), "utf16.txt": ("NS003", 1, 1),
    "yaml11_no.yaml": ("NS146", 5, 26), "yaml11_octal.yaml": ("NS012", 5, 33),
    "yaml11_sexagesimal.yaml": ("NS146", 5, 33), "zero_channels.yaml": ("NS147", 5, 33),
    # what torch refuses in forward or build, refused at validation
    "shape_same_reflect_padding.yaml": ("NS200", 4, 9), "shape_avgpool3d_below_kernel.yaml": ("NS200", 4, 9),
    "shape_view_after_crop.yaml": ("NS200", 5, 6), "dtype_float64_into_conv.yaml": ("NS200", 6, 6),
    "dtype_float16_linear.yaml": ("NS200", 5, 6), "init_kaiming_gain_overflow.yaml": ("NS180", 6, 49),
}  # fmt: skip
EXPECTED = {name: code for name, (code, _, _) in LOCATED.items()}
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
    err = located_error(lambda: netspec.validate(netspec.loads(path.read_bytes())))
    if not path.name.startswith("extends_"):  # text has no folder: `extends` of a file is refused outright
        assert err.errors[0].code == EXPECTED[path.name], str(err)
    assert not PWNED.exists()


@pytest.mark.parametrize("name", sorted(LOCATED))
def test_corpus_file_is_refused_at_its_place(name: str) -> None:
    err = located_error(lambda: netspec.validate(netspec.load(CORPUS / name)))
    first = err.errors[0]
    assert (first.code, first.line, first.column) == LOCATED[name], str(err)
