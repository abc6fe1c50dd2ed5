"""Building blocks of the OpenAPI document, shared by its analytics and release parts."""

from __future__ import annotations

from typing import Any

from ota_stream.models import ID_PATTERN

ID = {"type": "string", "pattern": ID_PATTERN}
ERROR = {"$ref": "#/components/schemas/Error"}


def error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}}


def json_body(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def param(name: str, schema: dict[str, Any], required: bool = False, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": schema}


def data(schema: dict[str, Any]) -> dict[str, Any]:
    """`{"data": schema}`, the shape of every analytics answer."""
    return {"type": "object", "properties": {"data": schema}, "required": ["data"]}


def obj(properties: dict[str, Any]) -> dict[str, Any]:
    """An object with exactly these properties, all required."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


INTEGER = {"type": "integer", "minimum": 0}
NUMBER = {"type": "number"}
RATE = {"type": "number", "minimum": 0, "maximum": 100}
TEXT = {"type": "string"}
NULLABLE_NUMBER = {"type": ["number", "null"]}
TIMESTAMP = {"type": "string", "format": "date-time"}
