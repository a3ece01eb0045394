"""Model instances from a fixed, hand-written statement, converted as the ORM converts them.

For the few statements every request runs (the bearer-token lookup, a patient's care
team), building and compiling a queryset cost several times the query itself under load
(issue #12's profile: ~14 % of a patient read for one prefetch). Such a statement is
written once as SQL next to its rule, and its rows go through here: the backend's and the
fields' own converters, then `Model.from_db`, so the instances are what the ORM would
have made (SQLite hands back UUIDs and datetimes as text; encrypted fields decrypt).
"""

from django.db import connections


class Columns:
    """`names` (attnames, e.g. "patient_id") of `model`, in the order a statement selects them."""

    def __init__(self, model, names: tuple[str, ...]):
        self.model = model
        self.names = names
        table = model._meta.db_table
        fields = {field.attname: field for field in model._meta.concrete_fields}
        self._cols = [fields[name].get_col(table) for name in names]
        self._converters: dict[str, list] = {}

    def sql(self, alias: str) -> str:
        """The select list, each column qualified with `alias`."""
        return ", ".join(f"{alias}.{col.target.column}" for col in self._cols)

    def instance(self, using: str, values) -> object:
        connection = connections[using]
        converters = self._converters.get(connection.vendor)
        if converters is None:
            converters = self._converters[connection.vendor] = [
                (index, col, [*connection.ops.get_db_converters(col), *col.target.get_db_converters(connection)])
                for index, col in enumerate(self._cols)
            ]
        values = list(values)
        for index, col, functions in converters:
            for convert in functions:
                values[index] = convert(values[index], col, connection)
        return self.model.from_db(using, self.names, values)
