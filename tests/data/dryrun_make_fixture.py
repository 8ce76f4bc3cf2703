"""Rebuild tests/data/dryrun_out/ (an export folder as curate writes it) from the shared EUR-Lex sample.

    python tests/data/dryrun_make_fixture.py /work/shared/data
"""

import hashlib
import json
import sys
from pathlib import Path

import polars as pl

HERE = Path(__file__).parent / "dryrun_out"
TRAIN, VALID, TEXT_CHARS = 10, 4, 300

F1_SOURCE = '''def grade(sample, item):
    try:
        out = sample.get("output_json")
        if not isinstance(out, dict):
            return 0.0
        pred = out.get("labels")
        if not isinstance(pred, list):
            return 0.0
        pred = {p for p in pred if isinstance(p, str)}
        ref = set(item.get("reference_answer") or [])
        if not pred or not ref:
            return 0.0
        tp = len(pred & ref)
        if tp == 0:
            return 0.0
        precision, recall = tp / len(pred), tp / len(ref)
        return 2 * precision * recall / (precision + recall)
    except Exception:
        return 0.0
'''


def _part(metric):
    return F1_SOURCE.split("        tp = len(pred & ref)")[0] + (
        f"        tp = len(pred & ref)\n        return tp / len({'pred' if metric == 'precision' else 'ref'})\n"
        "    except Exception:\n        return 0.0\n"
    )


def main(shared: Path) -> None:
    names = sorted(json.loads((shared / "eurovoc/eurovoc_level1_en.json").read_text()).values())
    rows = [json.loads(line) for line in (shared / "eurlex57k_sample/eurlex57k_sample_en_derived_levels.jsonl").open()]
    developer = ("Classify the EU legal act into its EuroVoc level-1 domains. Answer with JSON "
                 '{"labels": [...]} using only these names: ' + "; ".join(names) + ".")
    HERE.mkdir(exist_ok=True)
    ledger = []
    for split, chunk in (("train", rows[:TRAIN]), ("valid", rows[TRAIN:TRAIN + VALID])):
        with (HERE / f"{split}.jsonl").open("w") as fh:
            for r in chunk:
                line = {"messages": [{"role": "developer", "content": developer},
                                     {"role": "user", "content": r["text"][:TEXT_CHARS]}],
                        "reference_answer": sorted(r["level_1_en"]), "id": r["celex_id"],
                        "document_type": r["document_type"]}
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                ledger.append((r["celex_id"], split, []))
    ledger.append(("rejected-row", "rejected", ["empty_text"]))
    (HERE / "response_format.json").write_text(json.dumps({"type": "json_schema", "json_schema": {
        "name": "labels", "strict": True, "schema": {
            "type": "object", "properties": {"labels": {"type": "array", "items": {"type": "string", "enum": names}}},
            "required": ["labels"], "additionalProperties": False}}}, indent=2) + "\n")
    (HERE / "grader.json").write_text(json.dumps({"type": "python", "name": "f1", "source": F1_SOURCE}, indent=2) + "\n")
    (HERE / "grader_multi.json").write_text(json.dumps({
        "type": "multi", "name": "f1",
        "graders": {m: {"type": "python", "name": m, "source": _part(m)} for m in ("precision", "recall")},
        "calculate_output": "2 * precision * recall / max(precision + recall, 1e-9)"}, indent=2) + "\n")
    pl.DataFrame({"line": list(range(1, len(ledger) + 1)), "id": [x[0] for x in ledger],
                  "disposition": [x[1] for x in ledger], "reasons": [x[2] for x in ledger]},
                 schema={"line": pl.Int64, "id": pl.String, "disposition": pl.String, "reasons": pl.List(pl.String)},
                 ).write_parquet(HERE / "ledger.parquet")
    files = {n: hashlib.sha256((HERE / n).read_bytes()).hexdigest()
             for n in ("train.jsonl", "valid.jsonl", "response_format.json", "grader.json", "ledger.parquet")}
    (HERE / "manifest.json").write_text(json.dumps({
        "input_rows": len(ledger), "counts": {"train": TRAIN, "valid": VALID, "rejected": 1},
        "rules": {"empty_text": 1}, "files": files}, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
