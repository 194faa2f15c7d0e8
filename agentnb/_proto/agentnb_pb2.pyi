from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("id", "name", "role", "timestamp", "content_json", "content_bytes", "url_json", "metadata_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONTENT_JSON_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    URL_JSON_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: str
    timestamp: float
    content_json: str
    content_bytes: bytes
    url_json: str
    metadata_json: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., timestamp: _Optional[float] = ..., content_json: _Optional[str] = ..., content_bytes: _Optional[bytes] = ..., url_json: _Optional[str] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class TaskRef(_message.Message):
    __slots__ = ("address", "task_id", "agent")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    address: str
    task_id: str
    agent: str
    def __init__(self, address: _Optional[str] = ..., task_id: _Optional[str] = ..., agent: _Optional[str] = ...) -> None: ...

class Input(_message.Message):
    __slots__ = ("message", "ref")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    message: Message
    ref: TaskRef
    def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ..., ref: _Optional[_Union[TaskRef, _Mapping]] = ...) -> None: ...

class AgentSpec(_message.Message):
    __slots__ = ("name", "by_import", "pickled", "class_name", "source_hash")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BY_IMPORT_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    name: str
    by_import: ImportRecipe
    pickled: bytes
    class_name: str
    source_hash: str
    def __init__(self, name: _Optional[str] = ..., by_import: _Optional[_Union[ImportRecipe, _Mapping]] = ..., pickled: _Optional[bytes] = ..., class_name: _Optional[str] = ..., source_hash: _Optional[str] = ...) -> None: ...

class ImportRecipe(_message.Message):
    __slots__ = ("class_path", "kwargs_json")
    CLASS_PATH_FIELD_NUMBER: _ClassVar[int]
    KWARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    class_path: str
    kwargs_json: str
    def __init__(self, class_path: _Optional[str] = ..., kwargs_json: _Optional[str] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("name", "class_name", "source_hash", "calls", "queued")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    name: str
    class_name: str
    source_hash: str
    calls: int
    queued: int
    def __init__(self, name: _Optional[str] = ..., class_name: _Optional[str] = ..., source_hash: _Optional[str] = ..., calls: _Optional[int] = ..., queued: _Optional[int] = ...) -> None: ...

class Failure(_message.Message):
    __slots__ = ("agent", "address", "exc_type", "message", "traceback")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EXC_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    agent: str
    address: str
    exc_type: str
    message: str
    traceback: str
    def __init__(self, agent: _Optional[str] = ..., address: _Optional[str] = ..., exc_type: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ...) -> None: ...

class CreateAgentRequest(_message.Message):
    __slots__ = ("spec", "replace")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    spec: AgentSpec
    replace: bool
    def __init__(self, spec: _Optional[_Union[AgentSpec, _Mapping]] = ..., replace: _Optional[bool] = ...) -> None: ...

class CreateAgentResponse(_message.Message):
    __slots__ = ("agent", "created")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    agent: AgentInfo
    created: bool
    def __init__(self, agent: _Optional[_Union[AgentInfo, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class DeleteAgentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteAgentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListAgentsResponse(_message.Message):
    __slots__ = ("agents",)
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    agents: _containers.RepeatedCompositeFieldContainer[AgentInfo]
    def __init__(self, agents: _Optional[_Iterable[_Union[AgentInfo, _Mapping]]] = ...) -> None: ...

class CallRequest(_message.Message):
    __slots__ = ("agent", "task_id", "inputs", "as_list", "no_input", "caller", "wait_ms")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    AS_LIST_FIELD_NUMBER: _ClassVar[int]
    NO_INPUT_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    agent: str
    task_id: str
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    as_list: bool
    no_input: bool
    caller: str
    wait_ms: int
    def __init__(self, agent: _Optional[str] = ..., task_id: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ..., as_list: _Optional[bool] = ..., no_input: _Optional[bool] = ..., caller: _Optional[str] = ..., wait_ms: _Optional[int] = ...) -> None: ...

class CallResponse(_message.Message):
    __slots__ = ("outcome",)
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    outcome: FetchResultResponse
    def __init__(self, outcome: _Optional[_Union[FetchResultResponse, _Mapping]] = ...) -> None: ...

class FetchResultRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class FetchResultResponse(_message.Message):
    __slots__ = ("reply", "failure")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    reply: Message
    failure: Failure
    def __init__(self, reply: _Optional[_Union[Message, _Mapping]] = ..., failure: _Optional[_Union[Failure, _Mapping]] = ...) -> None: ...

class ObserveRequest(_message.Message):
    __slots__ = ("agent", "inputs")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    agent: str
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    def __init__(self, agent: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ...) -> None: ...

class ObserveResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("server_id", "pid", "address", "accepts_code", "agents", "max_message_bytes", "version")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTS_CODE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    pid: int
    address: str
    accepts_code: bool
    agents: int
    max_message_bytes: int
    version: str
    def __init__(self, server_id: _Optional[str] = ..., pid: _Optional[int] = ..., address: _Optional[str] = ..., accepts_code: _Optional[bool] = ..., agents: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., version: _Optional[str] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShutdownResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("since_seq",)
    SINCE_SEQ_FIELD_NUMBER: _ClassVar[int]
    since_seq: int
    def __init__(self, since_seq: _Optional[int] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "kind", "task_id", "agent", "caller", "inputs", "timestamp", "preview", "text", "server_id", "message_id", "direct_inputs")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Event.Kind]
        QUEUED: _ClassVar[Event.Kind]
        RUNNING: _ClassVar[Event.Kind]
        DONE: _ClassVar[Event.Kind]
        ERROR: _ClassVar[Event.Kind]
        OUTPUT: _ClassVar[Event.Kind]
    KIND_UNSPECIFIED: Event.Kind
    QUEUED: Event.Kind
    RUNNING: Event.Kind
    DONE: Event.Kind
    ERROR: Event.Kind
    OUTPUT: Event.Kind
    SEQ_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECT_INPUTS_FIELD_NUMBER: _ClassVar[int]
    seq: int
    kind: Event.Kind
    task_id: str
    agent: str
    caller: str
    inputs: _containers.RepeatedCompositeFieldContainer[TaskRef]
    timestamp: float
    preview: str
    text: str
    server_id: str
    message_id: str
    direct_inputs: int
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[_Union[Event.Kind, str]] = ..., task_id: _Optional[str] = ..., agent: _Optional[str] = ..., caller: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[TaskRef, _Mapping]]] = ..., timestamp: _Optional[float] = ..., preview: _Optional[str] = ..., text: _Optional[str] = ..., server_id: _Optional[str] = ..., message_id: _Optional[str] = ..., direct_inputs: _Optional[int] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events", "dropped")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    dropped: int
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., dropped: _Optional[int] = ...) -> None: ...
