"""Rules about where code may live, checked on the source (AST), so a regression fails CI.

- The domain does not depend on the HTTP layer: only HTTP modules import `clarity.api`.
  Services, selectors and the rest raise `clarity.errors` refusals, which
  `clarity.api.errors` maps to problem+json in one place.
- A role is compared in one place: the role policy (`clarity/users/policy.py`), the
  `User.has_role` helper its `is_admin`-style properties use, and `CareTeamRole.is_primary`
  for a care-team membership. Everything else asks those.

Both rules cover the application packages (APPS) except their tests, which assert what a
user's role is and drive the API through its test helpers.
"""

import ast
import inspect
from pathlib import Path

from django.conf import settings

import clarity.errors
from clarity.api.errors import DOMAIN_STATUS

ROOT = Path(settings.BASE_DIR)
APPS = ("clarity", "patients", "twins", "interactions")

# The HTTP layer, which may import clarity.api: the API package itself, each app's views,
# serializers and URLconf, the FHIR error envelope, and the ASGI entry point.
HTTP_MODULE_NAMES = {"views.py", "serializers.py", "urls.py"}
HTTP_MODULES = {"clarity/asgi.py", "clarity/fhir/errors.py"}

# Where a role may be compared: the module, or (module, function) for one helper.
ROLE_POLICY_MODULE = "clarity/users/policy.py"
ROLE_HELPERS = {("clarity/users/models.py", "has_role"), ("patients/models.py", "is_primary")}
ROLE_ENUMS = {"Role", "CareTeamRole"}


def application_modules():
    """(path relative to the repo, parsed module) for every application source file; tests excluded."""
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "tests" in relative.parts:
                continue
            yield relative.as_posix(), ast.parse(path.read_text(), filename=str(path))


def is_http_module(relative: str) -> bool:
    return (
        relative.startswith("clarity/api/")
        or relative.rsplit("/", 1)[-1] in HTTP_MODULE_NAMES
        or relative in HTTP_MODULES
    )


def _imports_api(name: str) -> bool:
    return name == "clarity.api" or name.startswith("clarity.api.")


def api_imports(tree: ast.Module):
    """(line, module) of every import of clarity.api, at module level or inside a function."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        imported = [name for name in names if _imports_api(name)]
        if imported:
            yield node.lineno, imported[0]


def test_only_http_modules_import_the_api_layer():
    offenders = [
        f"{relative}:{line} imports {name}"
        for relative, tree in application_modules()
        if not is_http_module(relative)
        for line, name in api_imports(tree)
    ]
    assert offenders == [], "Raise clarity.errors refusals instead; the API maps them:\n" + "\n".join(offenders)


def test_the_import_rule_catches_a_service_importing_the_api_layer():
    tree = ast.parse(
        "def f():\n    from clarity.api.errors import Problem\n\nfrom clarity import api\nimport clarity.apis\n"
    )
    assert sorted(api_imports(tree)) == [(2, "clarity.api.errors"), (4, "clarity.api")]
    assert not is_http_module("patients/services.py") and is_http_module("patients/views.py")


def _is_role_operand(node: ast.expr) -> bool:
    """`role`, `x.role`, `team_role`, `x.actor_role`, or a member of the role enums (`Role.ADMIN`)."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
    if name is not None and (name == "role" or name.endswith("_role")):
        return True
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ROLE_ENUMS


def role_comparisons(tree: ast.Module):
    """(line, enclosing function name) of every ==, !=, in, not in, is, is not on a role."""
    found = []

    def visit(node, function):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Compare) and any(
            _is_role_operand(operand) for operand in [node.left, *node.comparators]
        ):
            found.append((node.lineno, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, None)
    return found


def test_roles_are_compared_only_by_the_role_policy_and_its_helpers():
    offenders = [
        f"{relative}:{line}"
        for relative, tree in application_modules()
        if relative != ROLE_POLICY_MODULE
        for line, function in role_comparisons(tree)
        if (relative, function) not in ROLE_HELPERS
    ]
    assert offenders == [], "Use user.is_admin / user.has_role(...) / CareTeamRole.is_primary(...):\n" + "\n".join(
        offenders
    )


def test_the_role_rule_catches_string_and_enum_comparisons():
    source = (
        'if user.role == "admin": pass\n'
        'if actor.role in ("admin", "patient"): pass\n'
        "if role != Role.CLINICIAN: pass\n"
        'if team_role == "primary": pass\n'
        "if membership.role == CareTeamRole.PRIMARY: pass\n"
        "if user.is_admin or level == Access.ADMIN: pass\n"
    )
    assert [line for line, _function in role_comparisons(ast.parse(source))] == [1, 2, 3, 4, 5]


def test_every_domain_error_has_one_http_status():
    refusals = {
        cls
        for _name, cls in inspect.getmembers(clarity.errors, inspect.isclass)
        if issubclass(cls, clarity.errors.ApplicationError) and cls is not clarity.errors.ApplicationError
    }
    assert refusals == set(DOMAIN_STATUS)
