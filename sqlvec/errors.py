"""Exceptions, one class per SQLSTATE, with the PEP 249 hierarchy (as psycopg.errors does).

The engine raises these; the embedded API lets them through unchanged; the wire server turns
``sqlstate``, ``message``, ``detail``, ``hint`` and ``position`` into an ErrorResponse.

    >>> try:
    ...     raise UniqueViolation('duplicate key value violates unique constraint "t_pkey"')
    ... except IntegrityError as e:
    ...     print(e.sqlstate)
    23505
"""

from __future__ import annotations

_BY_SQLSTATE: dict[str, type[Error]] = {}


class Warning(Exception):  # noqa: A001 - the PEP 249 name
    pass


class Error(Exception):
    """Base of every sqlvec error. ``sqlstate`` is the five-character SQLSTATE code."""

    sqlstate: str = "XX000"
    severity: str = "ERROR"
    # the object an integrity error is about (ErrorResponse fields s, t, c, d, n):
    # drivers expose them, e.g. node-postgres' err.constraint, psycopg's diag.constraint_name
    schema_name: str | None = None
    table_name: str | None = None
    column_name: str | None = None
    datatype_name: str | None = None
    constraint_name: str | None = None

    def __init__(
        self,
        message: str = "",
        *,
        detail: str | None = None,
        hint: str | None = None,
        position: int | None = None,
        sqlstate: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.hint = hint
        # 1-based character position in the statement text, as PostgreSQL reports it.
        self.position = position
        if sqlstate is not None:
            self.sqlstate = sqlstate

    def about(self, *, schema: str | None = None, table: str | None = None, column: str | None = None,
              datatype: str | None = None, constraint: str | None = None) -> Error:
        """Name the object the error concerns (returns self, for ``raise err.about(...)``)."""
        if schema is not None:
            self.schema_name = schema
        if table is not None:
            self.table_name = table
        if column is not None:
            self.column_name = column
        if datatype is not None:
            self.datatype_name = datatype
        if constraint is not None:
            self.constraint_name = constraint
        return self

    def __init_subclass__(cls, code: str | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.sqlstate = code
            _BY_SQLSTATE.setdefault(code, cls)

    @property
    def pgcode(self) -> str:  # psycopg2 spelling
        return self.sqlstate

    def __str__(self) -> str:
        return self.message


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


def lookup(sqlstate: str) -> type[Error]:
    """The class for a SQLSTATE; falls back to the class of its two-character category."""
    cls = _BY_SQLSTATE.get(sqlstate)
    if cls is not None:
        return cls
    return _BY_SQLSTATE.get(sqlstate[:2] + "000", DatabaseError)


def error_for(sqlstate: str, message: str, **kwargs) -> Error:
    """An exception instance of the right class for ``sqlstate``."""
    cls = lookup(sqlstate)
    return cls(message, sqlstate=sqlstate, **kwargs)


# --- Class 0A: feature not supported
class FeatureNotSupported(NotSupportedError, code="0A000"):
    pass


# --- Class 08: connection exception
class ConnectionException(OperationalError, code="08000"):
    pass


class ProtocolViolation(OperationalError, code="08P01"):
    pass


# --- Class 21/22: data exceptions
class CardinalityViolation(ProgrammingError, code="21000"):
    pass


class DataException(DataError, code="22000"):
    pass


class StringDataRightTruncation(DataError, code="22001"):
    pass


class NumericValueOutOfRange(DataError, code="22003"):
    pass


class NullValueNotAllowed(DataError, code="22004"):
    pass


class InvalidDatetimeFormat(DataError, code="22007"):
    pass


class DatetimeFieldOverflow(DataError, code="22008"):
    pass


class InvalidTimeZoneDisplacementValue(DataError, code="22009"):
    pass


class InvalidParameterValue(DataError, code="22023"):
    pass


class DivisionByZero(DataError, code="22012"):
    pass


class InvalidEscapeSequence(DataError, code="22025"):
    pass


class ArraySubscriptError(DataError, code="2202E"):
    pass


class InvalidRegularExpression(DataError, code="2201B"):
    pass


class InvalidRowCountInLimitClause(DataError, code="2201W"):
    pass


class InvalidRowCountInResultOffsetClause(DataError, code="2201X"):
    pass


class CharacterNotInRepertoire(DataError, code="22021"):
    pass


class InvalidTextRepresentation(DataError, code="22P02"):
    pass


class InvalidBinaryRepresentation(DataError, code="22P03"):
    pass


class BadCopyFileFormat(DataError, code="22P04"):
    pass


class UntranslatableCharacter(DataError, code="22P05"):
    pass


class InvalidJsonText(DataError, code="22032"):
    pass


class DataCorrupted(InternalError, code="XX001"):
    pass


# --- Class 23: integrity constraint violation
class IntegrityConstraintViolation(IntegrityError, code="23000"):
    pass


class RestrictViolation(IntegrityError, code="23001"):
    pass


class NotNullViolation(IntegrityError, code="23502"):
    pass


class ForeignKeyViolation(IntegrityError, code="23503"):
    pass


class UniqueViolation(IntegrityError, code="23505"):
    pass


class CheckViolation(IntegrityError, code="23514"):
    pass


class ExclusionViolation(IntegrityError, code="23P01"):
    pass


# --- Class 25: invalid transaction state
class InvalidTransactionState(InternalError, code="25000"):
    pass


class ActiveSqlTransaction(InternalError, code="25001"):
    pass


class NoActiveSqlTransaction(InternalError, code="25P01"):
    pass


class InFailedSqlTransaction(InternalError, code="25P02"):
    pass


class ReadOnlySqlTransaction(InternalError, code="25006"):
    pass


# --- Class 26/28/2B/34: names and auth
class InvalidSqlStatementName(OperationalError, code="26000"):
    pass


class InvalidAuthorizationSpecification(OperationalError, code="28000"):
    pass


class InvalidPassword(OperationalError, code="28P01"):
    pass


class DependentObjectsStillExist(InternalError, code="2BP01"):
    pass


class InvalidCursorName(OperationalError, code="34000"):
    pass


class InvalidSavepointSpecification(InternalError, code="3B001"):
    pass


class InvalidCatalogName(ProgrammingError, code="3D000"):
    pass


class InvalidSchemaName(ProgrammingError, code="3F000"):
    pass


# --- Class 40: transaction rollback
class TransactionRollback(OperationalError, code="40000"):
    pass


class SerializationFailure(TransactionRollback, code="40001"):
    pass


class DeadlockDetected(TransactionRollback, code="40P01"):
    pass


# --- Class 42: syntax error or access rule violation
class SyntaxErrorOrAccessRuleViolation(ProgrammingError, code="42000"):
    pass


class SyntaxError(ProgrammingError, code="42601"):  # noqa: A001 - psycopg's name
    pass


class InsufficientPrivilege(ProgrammingError, code="42501"):
    pass


class GroupingError(ProgrammingError, code="42803"):
    pass


class WindowingError(ProgrammingError, code="42P20"):
    pass


class InvalidForeignKey(ProgrammingError, code="42830"):
    pass


class CannotCoerce(ProgrammingError, code="42846"):
    pass


class DatatypeMismatch(ProgrammingError, code="42804"):
    pass


class WrongObjectType(ProgrammingError, code="42809"):
    pass


class InvalidColumnReference(ProgrammingError, code="42P10"):
    pass


class UndefinedColumn(ProgrammingError, code="42703"):
    pass


class UndefinedFunction(ProgrammingError, code="42883"):
    pass


class UndefinedTable(ProgrammingError, code="42P01"):
    pass


class UndefinedParameter(ProgrammingError, code="42P02"):
    pass


class UndefinedObject(ProgrammingError, code="42704"):
    pass


class DuplicateColumn(ProgrammingError, code="42701"):
    pass


class DuplicateCursor(ProgrammingError, code="42P03"):
    pass


class DuplicateDatabase(ProgrammingError, code="42P04"):
    pass


class DuplicatePreparedStatement(ProgrammingError, code="42P05"):
    pass


class DuplicateSchema(ProgrammingError, code="42P06"):
    pass


class DuplicateTable(ProgrammingError, code="42P07"):
    pass


class DuplicateAlias(ProgrammingError, code="42712"):
    pass


class DuplicateFunction(ProgrammingError, code="42723"):
    pass


class DuplicateObject(ProgrammingError, code="42710"):
    pass


class AmbiguousColumn(ProgrammingError, code="42702"):
    pass


class AmbiguousFunction(ProgrammingError, code="42725"):
    pass


class AmbiguousParameter(ProgrammingError, code="42P08"):
    pass


class InvalidColumnDefinition(ProgrammingError, code="42611"):
    pass


class InvalidTableDefinition(ProgrammingError, code="42P16"):
    pass


class InvalidObjectDefinition(ProgrammingError, code="42P17"):
    pass


class IndeterminateDatatype(ProgrammingError, code="42P18"):
    pass


class InvalidName(ProgrammingError, code="42602"):
    pass


class NameTooLong(ProgrammingError, code="42622"):
    pass


# --- Class 53/54/55/57/58: resources, limits, state, operator intervention, system
class InsufficientResources(OperationalError, code="53000"):
    pass


class DiskFull(OperationalError, code="53100"):
    pass


class OutOfMemory(OperationalError, code="53200"):
    pass


class TooManyConnections(OperationalError, code="53300"):
    pass


class ProgramLimitExceeded(OperationalError, code="54000"):
    pass


class StatementTooComplex(OperationalError, code="54001"):
    pass


class TooManyColumns(OperationalError, code="54011"):
    pass


class ObjectNotInPrerequisiteState(OperationalError, code="55000"):
    pass


class ObjectInUse(OperationalError, code="55006"):
    pass


class LockNotAvailable(OperationalError, code="55P03"):
    pass


class QueryCanceled(OperationalError, code="57014"):
    pass


class AdminShutdown(OperationalError, code="57P01"):
    pass


class CannotConnectNow(OperationalError, code="57P03"):
    pass


class SystemError(OperationalError, code="58000"):  # noqa: A001
    pass


class IoError(OperationalError, code="58030"):
    pass


class UndefinedFile(OperationalError, code="58P01"):
    pass


class InternalError_(InternalError, code="XX000"):
    pass
