"""Loads a trackplan Fides manifest with fideslang and checks it against the default taxonomy.

Usage: fides_check.py MANIFEST.yml

Exits non-zero, printing why, when fideslang cannot load a resource, or when a declaration names
a data category, data use or data subject that neither the default taxonomy nor the manifest
defines, or when a policy rule names unknown keys.
"""

import sys

from fideslang import DEFAULT_TAXONOMY
from fideslang.manifests import load_yaml_into_dict
from fideslang.parse import load_manifests_into_taxonomy


def main(path: str) -> int:
    raw = load_yaml_into_dict(path)
    if not raw.get("system"):
        print(f"{path}: no `system` resources")
        return 1
    taxonomy = load_manifests_into_taxonomy(raw)  # raises SystemExit on a model error

    categories = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
    categories |= {c.fides_key for c in taxonomy.data_category or []}
    uses = {u.fides_key for u in DEFAULT_TAXONOMY.data_use}
    subjects = {s.fides_key for s in DEFAULT_TAXONOMY.data_subject}
    systems = {s.fides_key for s in taxonomy.system}

    problems = []
    for system in taxonomy.system:
        if not system.privacy_declarations:
            problems.append(f"system {system.fides_key}: no privacy declarations")
        for decl in system.privacy_declarations:
            where = f"system {system.fides_key}, declaration {decl.name}"
            if decl.data_use not in uses:
                problems.append(f"{where}: unknown data use {decl.data_use}")
            for c in decl.data_categories:
                if c not in categories:
                    problems.append(f"{where}: unknown data category {c}")
            for s in decl.data_subjects:
                if s not in subjects:
                    problems.append(f"{where}: unknown data subject {s}")
        for flow in (system.egress or []) + (system.ingress or []):
            if flow.fides_key not in systems:
                problems.append(f"system {system.fides_key}: data flow to unknown {flow.fides_key}")
    for policy in taxonomy.policy or []:
        for rule in policy.rules:
            for c in rule.data_categories.values:
                if c not in categories:
                    problems.append(f"policy {policy.fides_key}: unknown data category {c}")
            for u in rule.data_uses.values:
                if u not in uses:
                    problems.append(f"policy {policy.fides_key}: unknown data use {u}")

    for p in problems:
        print(p)
    if problems:
        return 1
    print(
        f"{path}: {len(taxonomy.system)} systems, "
        f"{sum(len(s.privacy_declarations) for s in taxonomy.system)} declarations, "
        f"{len(taxonomy.policy or [])} policies loaded by fideslang"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
