"""Labelled text is read from every format with nothing lost or shifted, and bad lines are
errors naming the file and line."""

import os
from pathlib import Path

import pytest

from s2s.config import DataConfig
from s2s.errors import UserError
from s2s.labels import LabelSet, read_classify, read_conllu, read_split, read_tagged

CONLLU = """# sent_id = a-1
# text = Don't go.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\t_\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\t_\t_\t3\tadvmod\t_\t_
3\tgo\tgo\tVERB\t_\t_\t0\troot\t_\tSpaceAfter=No
3.1\tgone\tgo\tVERB\t_\t_\t_\t_\t3:conj\t_
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

# sent_id = a-2
1\tYes\tyes\tINTJ\t_\t_\t0\troot\t_\t_

"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_label_first_and_tsv_keep_every_line_in_order(tmp_path):
    sst = write(tmp_path / "sst", "1 a fine film\n0 dull , dull\n1 \n")
    got = read_classify([sst], "label_first")
    assert got.inputs == ["a fine film", "dull , dull", ""] and got.labels == ["1", "0", "1"]
    tsv = write(tmp_path / "t.tsv", "a\tb c\tpos\nno tab here either\tneg\n")
    got = read_classify([tsv], "tsv")
    assert got.inputs == ["a\tb c", "no tab here either"] and got.labels == ["pos", "neg"]


def test_parallel_label_files_are_read_line_by_line(tmp_path):
    write(tmp_path / "train.txt", "one\ntwo\n")
    write(tmp_path / "train.label", "x\n y \n")
    data = DataConfig(train=str(tmp_path / "train"), valid="v", src_lang="txt", tgt_lang="label")
    got = read_split("classify", data, data.train)
    assert got.inputs == ["one", "two"] and got.labels == ["x", "y"]


@pytest.mark.parametrize("fmt, text, where", [
    ("label_first", "1 good\n\n0 bad\n", ":2: expected 'LABEL TEXT'"),
    ("tsv", "good\t1\nbad 0\n", ":2: expected 'TEXT<TAB>LABEL'"),
    ("tsv", "good\t\n", ":1: expected 'TEXT<TAB>LABEL'"),
])
def test_bad_lines_name_the_file_and_line(tmp_path, fmt, text, where):
    path = write(tmp_path / "data", text)
    with pytest.raises(UserError, match=str(path) + where):
        read_classify([path], fmt)


def test_a_label_line_with_two_labels_is_an_error(tmp_path):
    text, labels = write(tmp_path / "a.txt", "x\ny\n"), write(tmp_path / "a.label", "1\n1 0\n")
    with pytest.raises(UserError, match=rf"{labels}:2: expected one label"):
        read_classify([text, labels], "parallel")


def test_tagged_files_must_give_one_label_per_word(tmp_path):
    words, tags = write(tmp_path / "w", "the cat\na dog barks\n"), write(tmp_path / "t", "D N\nD N\n")
    with pytest.raises(UserError, match=rf"{tags}:2: 2 labels for the 3 words of {words}:2"):
        read_tagged([words, tags], "parallel")
    write(tags, "D N\nD N V\n")
    got = read_tagged([words, tags], "parallel")
    assert got.inputs == [["the", "cat"], ["a", "dog", "barks"]] and got.labels == [["D", "N"], ["D", "N", "V"]]


def test_conllu_gives_the_syntactic_words_and_their_upos(tmp_path):
    got = read_conllu(write(tmp_path / "a.conllu", CONLLU))
    assert got.inputs == [["Do", "n't", "go", "."], ["Yes"]]  # no multiword token, no empty node
    assert got.labels == [["AUX", "PART", "VERB", "PUNCT"], ["INTJ"]]


def test_a_conllu_word_with_a_space_is_refused_by_name(tmp_path):
    path = write(tmp_path / "a.conllu", "# sent_id = s9\n1\t5 000\t_\tNUM\t_\t_\t0\troot\t_\t_\n\n")
    with pytest.raises(UserError, match="sentence s9: word 1 is '5 000'"):
        read_conllu(path)


def test_the_label_set_is_sorted_and_unknown_labels_are_minus_one(tmp_path):
    got = read_classify([write(tmp_path / "d", "b x\na y\nb z\n")], "label_first")
    labels = LabelSet.of(got)
    assert labels.labels == ["a", "b"] and labels.ids(["b", "a", "c"]) == [1, 0, -1]
    with pytest.raises(UserError, match="1 label"):
        LabelSet.of(read_classify([write(tmp_path / "e", "b x\nb y\n")], "label_first"))


DATA = Path(os.environ.get("S2S_DATA", "data"))


@pytest.mark.skipif(not (DATA / "ud-english-ewt").is_dir(), reason="no $S2S_DATA/ud-english-ewt here")
def test_ewt_train_has_the_words_its_provenance_counts():
    got = read_conllu(DATA / "ud-english-ewt" / "en_ewt-ud-train.conllu")
    assert len(got.inputs) == 12544 and sum(map(len, got.inputs)) == 204577
    assert len(LabelSet.of(got)) == 17  # the UPOS tag set


@pytest.mark.skipif(not (DATA / "sst").is_dir(), reason="no $S2S_DATA/sst here")
def test_sst2_splits_have_their_documented_sizes_and_labels():
    sizes = {split: read_classify([DATA / "sst" / f"stsa.binary.{split}"], "label_first")
             for split in ("train", "dev", "test")}
    assert [len(s.inputs) for s in sizes.values()] == [6920, 872, 1821]
    assert sizes["train"].labels.count("0") == 3310 and LabelSet.of(sizes["train"]).labels == ["0", "1"]
