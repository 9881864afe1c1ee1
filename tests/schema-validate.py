#!/usr/bin/python3
"""schema-validate.py KIND FILE... - validates JSON files against the OCI
image-spec schemas in tests/schema/ (draft-04).

KIND is one of: index, manifest, config, layout, descriptor.  $refs between
the schema files are resolved by their "id" (or "$id") and, for files without
one (defs.json, defs-descriptor.json), by file name relative to the referring
schema's id, as image-spec's own Go loader does.  Exit status 0 when every
file is valid, 1 when one is not (the errors go to stderr), 2 on usage errors.
"""
import json
import os
import sys

import jsonschema

try:  # jsonschema >= 4.18
    from referencing import Registry, Resource
    from referencing.exceptions import NoSuchResource
    from referencing.jsonschema import DRAFT4
except ImportError:  # Debian 12's jsonschema 4.10: RefResolver
    Registry = None

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_DIR = os.path.join(HERE, "schema")
KINDS = {
    "index": "image-index-schema.json",
    "manifest": "image-manifest-schema.json",
    "config": "config-schema.json",
    "layout": "image-layout-schema.json",
    "descriptor": "content-descriptor.json",
}


def load_schemas():
    by_name, by_id = {}, {}
    for name in sorted(os.listdir(SCHEMA_DIR)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
            doc = json.load(f)
        by_name[name] = doc
        sid = doc.get("$id") or doc.get("id")
        if sid:
            by_id[sid.rstrip("#")] = doc
    return by_name, by_id


def lookup(by_name, by_id, uri):
    doc = by_id.get(uri.rstrip("#"))
    if doc is None:
        doc = by_name.get(uri.rsplit("/", 1)[-1])
    return doc


def make_validator(schema, by_name, by_id):
    if Registry is None:
        def handler(uri):
            doc = lookup(by_name, by_id, uri)
            if doc is None:
                raise jsonschema.RefResolutionError("unknown schema %s" % uri)
            return doc

        resolver = jsonschema.RefResolver(
            base_uri=schema.get("id", ""), referrer=schema, store=dict(by_id),
            handlers={"https": handler, "http": handler, "": handler})
        return jsonschema.Draft4Validator(schema, resolver=resolver)
    return jsonschema.Draft4Validator(schema, registry=make_registry(by_name, by_id))


def make_registry(by_name, by_id):
    def retrieve(uri):
        doc = lookup(by_name, by_id, uri)
        if doc is None:
            raise NoSuchResource(ref=uri)
        return Resource.from_contents(doc, default_specification=DRAFT4)

    registry = Registry(retrieve=retrieve)
    for sid, doc in by_id.items():
        registry = registry.with_resource(
            sid, Resource.from_contents(doc, default_specification=DRAFT4))
    return registry


def main(argv):
    if len(argv) < 3 or argv[1] not in KINDS:
        print("usage: schema-validate.py {%s} FILE..." % ",".join(KINDS), file=sys.stderr)
        return 2
    by_name, by_id = load_schemas()
    schema = by_name[KINDS[argv[1]]]
    validator = make_validator(schema, by_name, by_id)
    bad = 0
    for path in argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as ex:
            print("%s: %s" % (path, ex), file=sys.stderr)
            bad += 1
            continue
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        for err in errors:
            where = "/".join(str(p) for p in err.path) or "(root)"
            print("%s: %s: %s" % (path, where, err.message), file=sys.stderr)
        bad += bool(errors)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
