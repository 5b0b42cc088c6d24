#!/usr/bin/env python3
"""Generate proto/commands.schema.json from proto/golden/commands_all.jsonl
(one JSON command per variant) and the field types of proto/commands.md.

Run from the repository root: python3 crates/client/tools/gen_command_schema.py
The schema is complete for the envelope, the 29 command variants and their
field names (the two committee seals, absent from the golden file, are
described by hand below: HAND_VARIANTS); nested tagged unions (targets, results, values, schemes) are
checked as single-key objects only (see proto/commands.md and events.md).
"""
import json

FIXED = {"original", "revised", "forecast", "approved", "additions", "slippage", "achieved"}
PERIOD = {"period"}


def infer(key, v):
    if v is None:
        return {"description": "optional: null or a value (see proto/commands.md)"}
    if isinstance(v, bool):
        return {"type": "boolean"}
    if isinstance(v, int):
        return {"type": "integer"}
    if isinstance(v, str):
        if key in PERIOD:
            return {"$ref": "#/$defs/Period"}
        if key in FIXED:
            return {"$ref": "#/$defs/Fixed"}
        return {"$ref": "#/$defs/Text"}
    if isinstance(v, list):
        if key == "digest":
            return {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255},
                    "minItems": 32, "maxItems": 32}
        if key == "amounts":
            return {"type": "array", "maxItems": 16, "items": {
                "type": "array", "prefixItems": [{"type": "integer"}, {"$ref": "#/$defs/Fixed"}],
                "minItems": 2, "maxItems": 2}}
        out = {"type": "array"}
        if key == "benchmarks":
            out["maxItems"] = 16
        if v:
            out["items"] = infer(None, v[0])
        return out
    if isinstance(v, dict):
        keys = list(v)
        if len(keys) == 1 and keys[0][:1].isupper():
            return {"type": "object", "minProperties": 1, "maxProperties": 1,
                    "description": "externally tagged variant {\"Variant\": {...}} (proto/commands.md, events.md)"}
        return struct(v)
    raise ValueError(v)


def struct(obj):
    return {"type": "object", "additionalProperties": False,
            "required": list(obj),
            "properties": {k: infer(k, x) for k, x in obj.items()}}


lines = [json.loads(l) for l in open("proto/golden/commands_all.jsonl")
         if l.strip() and not l.startswith("#")]
variants = []
for l in lines:
    (name, body), = l["command"].items()
    if name == "PostCloseRestatement":
        fields = {"type": "object", "additionalProperties": False, "required": ["reason", "command"],
                  "properties": {"reason": {"$ref": "#/$defs/Text"},
                                 "command": {"$ref": "#/$defs/Command",
                                             "description": "any command with a period; not itself a PostCloseRestatement"}}}
    else:
        fields = struct(body)
    variants.append({"type": "object", "additionalProperties": False, "required": [name],
                     "properties": {name: fields}})

def nullable(ref):
    return {"anyOf": [ref, {"type": "null"}]}


BYTES32 = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255},
           "minItems": 32, "maxItems": 32}
SEAL = {"type": "object", "additionalProperties": False,
        "required": ["unit", "period", "committee", "meeting_date", "seq", "digest"],
        "properties": {"unit": {"$ref": "#/$defs/Text"}, "period": {"$ref": "#/$defs/Period"},
                       "committee": {"$ref": "#/$defs/Text"},
                       "meeting_date": struct({"year": 0, "month": 0, "day": 0}),
                       "seq": {"type": "integer"}, "digest": BYTES32}}
COMMITTEE_SEAL = {"type": "object", "additionalProperties": False,
                  "required": ["seal_id", "title", "sealed_at", "seal"],
                  "properties": {"seal_id": {"$ref": "#/$defs/Text"},
                                 "title": nullable({"$ref": "#/$defs/Text"}),
                                 "sealed_at": {"type": "integer", "description": "ms since 1970-01-01T00:00Z"},
                                 "seal": SEAL}}
PACK_PIN = {"type": "object", "additionalProperties": False,
            "required": ["chain_root", "format", "rules", "digest", "bytes"],
            "properties": {
                "chain_root": dict(BYTES32, description="hash-chain root after seal.seal.seq"),
                "format": {"type": "integer", "minimum": 0, "maximum": 255,
                           "description": "pack format byte; bytes[0] must equal it"},
                "rules": {"type": "integer", "minimum": 0, "maximum": 4294967295,
                          "description": "rules version id (1 = v1)"},
                "digest": dict(BYTES32, description="SHA-256 of bytes"),
                "bytes": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255},
                          "description": "the pack's canonical bytes ([format] ++ postcard(pack)), one "
                                         "integer per byte; the whole command stays under 256 KiB"}}}
HAND_VARIANTS = [
    ("SealCommitteeDashboard", {"type": "object", "additionalProperties": False, "required": ["seal"],
                                "properties": {"seal": COMMITTEE_SEAL}}),
    ("SealCommitteePack", {"type": "object", "additionalProperties": False, "required": ["seal", "pack"],
                           "properties": {"seal": COMMITTEE_SEAL, "pack": PACK_PIN}}),
]
for name, fields in HAND_VARIANTS:
    variants.append({"type": "object", "additionalProperties": False, "required": [name],
                     "properties": {name: fields}})

schema = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://perfledger.example/proto/commands.schema.json",
    "title": "perfledger CommandEnvelope (JSON form)",
    "description": "A command sent to the gateway as JSON (Pl-Encoding: json) on {prefix}.cmd.{tenant}.{family}. "
                   "Generated by crates/client/tools/gen_command_schema.py from proto/golden/commands_all.jsonl; "
                   "the Rust types in crates/domain are the source of truth. Optional (Option) fields are listed as "
                   "required here and may be null; the gateway also accepts them absent. Limits: whole body <= 256 KiB.",
    "type": "object",
    "additionalProperties": False,
    "required": ["command_id", "tenant", "actor", "source", "correlation_id", "causation_id", "command"],
    "properties": {
        "command_id": {"$ref": "#/$defs/Uuid", "description": "dedupe id: re-send the same id on retry"},
        "tenant": {"$ref": "#/$defs/Tenant"},
        "actor": {"$ref": "#/$defs/Text"},
        "source": {"$ref": "#/$defs/Text"},
        "correlation_id": {"$ref": "#/$defs/Uuid"},
        "causation_id": {"anyOf": [{"$ref": "#/$defs/Uuid"}, {"type": "null"}]},
        "command": {"$ref": "#/$defs/Command"},
    },
    "$defs": {
        "Command": {"oneOf": variants},
        "Uuid": {"type": "string", "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
        "Tenant": {"type": "string", "pattern": "^[a-z0-9_-]{1,32}$"},
        "Text": {"type": "string", "maxLength": 16384, "description": "UTF-8, <= 16 KiB, no NUL"},
        "Fixed": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,4})?$", "description": "decimal, up to 4 places"},
        "Period": {"type": "string", "description": "label: '2016/17', '2016/17 H1', '2016/17 Q1', 'Dec 2015'",
                   "pattern": "^([0-9]{4}/[0-9]{2}( (H[12]|Q[1-4]))?|(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4})$"},
    },
}
with open("proto/commands.schema.json", "w") as f:
    json.dump(schema, f, indent=2)
    f.write("\n")
print(f"{len(variants)} variants")
