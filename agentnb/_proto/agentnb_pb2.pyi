from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Message(_message.Message):
    __slots__ = ("id", "name", "role", "timestamp", "content_json", "content_bytes", "content_text", "url_json", "metadata_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONTENT_JSON_FIELD_NUMBER: _ClassVar[int]
    CONTENT_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TEXT_FIELD_NUMBER: _ClassVar[int]
    URL_JSON_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: str
    timestamp: float
    content_json: str
    content_bytes: bytes
    content_text: str
    url_json: str
    metadata_json: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ..., timestamp: _Optional[float] = ..., content_json: _Optional[str] = ..., content_bytes: _Optional[bytes] = ..., content_text: _Optional[str] = ..., url_json: _Optional[str] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class TaskRef(_message.Message):
    __slots__ = ("address", "task_id", "agent", "server_id", "batch_op", "items", "call_key")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_OP_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CALL_KEY_FIELD_NUMBER: _ClassVar[int]
    address: str
    task_id: str
    agent: str
    server_id: str
    batch_op: int
    items: bool
    call_key: str
    def __init__(self, address: _Optional[str] = ..., task_id: _Optional[str] = ..., agent: _Optional[str] = ..., server_id: _Optional[str] = ..., batch_op: _Optional[int] = ..., items: _Optional[bool] = ..., call_key: _Optional[str] = ...) -> None: ...

class SharedSegment(_message.Message):
    __slots__ = ("name", "size", "generation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    generation: int
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., generation: _Optional[int] = ...) -> None: ...

class Input(_message.Message):
    __slots__ = ("message", "ref")
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REF_FIELD_NUMBER: _ClassVar[int]
    message: Message
    ref: TaskRef
    def __init__(self, message: _Optional[_Union[Message, _Mapping]] = ..., ref: _Optional[_Union[TaskRef, _Mapping]] = ...) -> None: ...

class AgentSpec(_message.Message):
    __slots__ = ("name", "by_import", "pickled", "by_key", "class_name", "source_hash", "fingerprint")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BY_IMPORT_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    BY_KEY_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    by_import: ImportRecipe
    pickled: bytes
    by_key: DefinedRecipe
    class_name: str
    source_hash: str
    fingerprint: str
    def __init__(self, name: _Optional[str] = ..., by_import: _Optional[_Union[ImportRecipe, _Mapping]] = ..., pickled: _Optional[bytes] = ..., by_key: _Optional[_Union[DefinedRecipe, _Mapping]] = ..., class_name: _Optional[str] = ..., source_hash: _Optional[str] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class ImportRecipe(_message.Message):
    __slots__ = ("class_path", "kwargs_json")
    CLASS_PATH_FIELD_NUMBER: _ClassVar[int]
    KWARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    class_path: str
    kwargs_json: str
    def __init__(self, class_path: _Optional[str] = ..., kwargs_json: _Optional[str] = ...) -> None: ...

class DefinedRecipe(_message.Message):
    __slots__ = ("class_key", "arguments")
    CLASS_KEY_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    class_key: str
    arguments: bytes
    def __init__(self, class_key: _Optional[str] = ..., arguments: _Optional[bytes] = ...) -> None: ...

class AgentInfo(_message.Message):
    __slots__ = ("name", "class_name", "source_hash", "calls", "queued", "fingerprint")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    name: str
    class_name: str
    source_hash: str
    calls: int
    queued: int
    fingerprint: str
    def __init__(self, name: _Optional[str] = ..., class_name: _Optional[str] = ..., source_hash: _Optional[str] = ..., calls: _Optional[int] = ..., queued: _Optional[int] = ..., fingerprint: _Optional[str] = ...) -> None: ...

class Failure(_message.Message):
    __slots__ = ("agent", "address", "exc_type", "message", "traceback", "task_id")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EXC_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    agent: str
    address: str
    exc_type: str
    message: str
    traceback: str
    task_id: str
    def __init__(self, agent: _Optional[str] = ..., address: _Optional[str] = ..., exc_type: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class OutputChunk(_message.Message):
    __slots__ = ("chunk", "text")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    chunk: int
    text: str
    def __init__(self, chunk: _Optional[int] = ..., text: _Optional[str] = ...) -> None: ...

class Outcome(_message.Message):
    __slots__ = ("reply", "failure", "value_json", "output", "output_cut", "withheld", "shared")
    REPLY_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    VALUE_JSON_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CUT_FIELD_NUMBER: _ClassVar[int]
    WITHHELD_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    reply: Message
    failure: Failure
    value_json: str
    output: _containers.RepeatedCompositeFieldContainer[OutputChunk]
    output_cut: int
    withheld: int
    shared: SharedSegment
    def __init__(self, reply: _Optional[_Union[Message, _Mapping]] = ..., failure: _Optional[_Union[Failure, _Mapping]] = ..., value_json: _Optional[str] = ..., output: _Optional[_Iterable[_Union[OutputChunk, _Mapping]]] = ..., output_cut: _Optional[int] = ..., withheld: _Optional[int] = ..., shared: _Optional[_Union[SharedSegment, _Mapping]] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("code", "message", "reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    reason: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateAgentRequest(_message.Message):
    __slots__ = ("spec", "replace", "exclusive")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    EXCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    spec: AgentSpec
    replace: bool
    exclusive: bool
    def __init__(self, spec: _Optional[_Union[AgentSpec, _Mapping]] = ..., replace: _Optional[bool] = ..., exclusive: _Optional[bool] = ...) -> None: ...

class CreateAgentResponse(_message.Message):
    __slots__ = ("agent", "created", "task_id")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    agent: AgentInfo
    created: bool
    task_id: str
    def __init__(self, agent: _Optional[_Union[AgentInfo, _Mapping]] = ..., created: _Optional[bool] = ..., task_id: _Optional[str] = ...) -> None: ...

class DefineClassRequest(_message.Message):
    __slots__ = ("class_key", "pickled", "sources", "code_files")
    class SourcesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class CodeFilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CLASS_KEY_FIELD_NUMBER: _ClassVar[int]
    PICKLED_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    CODE_FILES_FIELD_NUMBER: _ClassVar[int]
    class_key: str
    pickled: bytes
    sources: _containers.ScalarMap[str, str]
    code_files: _containers.ScalarMap[str, str]
    def __init__(self, class_key: _Optional[str] = ..., pickled: _Optional[bytes] = ..., sources: _Optional[_Mapping[str, str]] = ..., code_files: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DeleteAgentRequest(_message.Message):
    __slots__ = ("name", "mesh")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MESH_FIELD_NUMBER: _ClassVar[int]
    name: str
    mesh: bool
    def __init__(self, name: _Optional[str] = ..., mesh: _Optional[bool] = ...) -> None: ...

class CreateMeshRequest(_message.Message):
    __slots__ = ("mesh", "spec", "name_pattern", "names", "first", "count", "overrides", "replace")
    MESH_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    NAME_PATTERN_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    mesh: str
    spec: AgentSpec
    name_pattern: str
    names: _containers.RepeatedScalarFieldContainer[str]
    first: int
    count: int
    overrides: bytes
    replace: bool
    def __init__(self, mesh: _Optional[str] = ..., spec: _Optional[_Union[AgentSpec, _Mapping]] = ..., name_pattern: _Optional[str] = ..., names: _Optional[_Iterable[str]] = ..., first: _Optional[int] = ..., count: _Optional[int] = ..., overrides: _Optional[bytes] = ..., replace: _Optional[bool] = ...) -> None: ...

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
    __slots__ = ("agent", "inputs", "as_list", "no_input", "caller", "wait_ms", "method", "args_json", "call_key", "mesh", "each", "shared", "key_names_task")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    AS_LIST_FIELD_NUMBER: _ClassVar[int]
    NO_INPUT_FIELD_NUMBER: _ClassVar[int]
    CALLER_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    CALL_KEY_FIELD_NUMBER: _ClassVar[int]
    MESH_FIELD_NUMBER: _ClassVar[int]
    EACH_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    KEY_NAMES_TASK_FIELD_NUMBER: _ClassVar[int]
    agent: str
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    as_list: bool
    no_input: bool
    caller: str
    wait_ms: int
    method: str
    args_json: str
    call_key: str
    mesh: bool
    each: bool
    shared: SharedSegment
    key_names_task: bool
    def __init__(self, agent: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ..., as_list: _Optional[bool] = ..., no_input: _Optional[bool] = ..., caller: _Optional[str] = ..., wait_ms: _Optional[int] = ..., method: _Optional[str] = ..., args_json: _Optional[str] = ..., call_key: _Optional[str] = ..., mesh: _Optional[bool] = ..., each: _Optional[bool] = ..., shared: _Optional[_Union[SharedSegment, _Mapping]] = ..., key_names_task: _Optional[bool] = ...) -> None: ...

class CallResponse(_message.Message):
    __slots__ = ("task_id", "outcome", "server_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    outcome: Outcome
    server_id: str
    def __init__(self, task_id: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, _Mapping]] = ..., server_id: _Optional[str] = ...) -> None: ...

class ObserveRequest(_message.Message):
    __slots__ = ("agent", "inputs")
    AGENT_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    agent: str
    inputs: _containers.RepeatedCompositeFieldContainer[Input]
    def __init__(self, agent: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[Input, _Mapping]]] = ...) -> None: ...

class ObserveResponse(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class ReleaseRequest(_message.Message):
    __slots__ = ("task_ids",)
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class Op(_message.Message):
    __slots__ = ("create", "call", "observe", "delete", "define_class", "release", "create_mesh", "shared")
    CREATE_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    OBSERVE_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    DEFINE_CLASS_FIELD_NUMBER: _ClassVar[int]
    RELEASE_FIELD_NUMBER: _ClassVar[int]
    CREATE_MESH_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    create: CreateAgentRequest
    call: CallRequest
    observe: ObserveRequest
    delete: DeleteAgentRequest
    define_class: DefineClassRequest
    release: ReleaseRequest
    create_mesh: CreateMeshRequest
    shared: SharedSegment
    def __init__(self, create: _Optional[_Union[CreateAgentRequest, _Mapping]] = ..., call: _Optional[_Union[CallRequest, _Mapping]] = ..., observe: _Optional[_Union[ObserveRequest, _Mapping]] = ..., delete: _Optional[_Union[DeleteAgentRequest, _Mapping]] = ..., define_class: _Optional[_Union[DefineClassRequest, _Mapping]] = ..., release: _Optional[_Union[ReleaseRequest, _Mapping]] = ..., create_mesh: _Optional[_Union[CreateMeshRequest, _Mapping]] = ..., shared: _Optional[_Union[SharedSegment, _Mapping]] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("ops",)
    OPS_FIELD_NUMBER: _ClassVar[int]
    ops: _containers.RepeatedCompositeFieldContainer[Op]
    def __init__(self, ops: _Optional[_Iterable[_Union[Op, _Mapping]]] = ...) -> None: ...

class OpResult(_message.Message):
    __slots__ = ("status", "task_id", "created")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    status: Status
    task_id: str
    created: CreateAgentResponse
    def __init__(self, status: _Optional[_Union[Status, _Mapping]] = ..., task_id: _Optional[str] = ..., created: _Optional[_Union[CreateAgentResponse, _Mapping]] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("results", "server_id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[OpResult]
    server_id: str
    def __init__(self, results: _Optional[_Iterable[_Union[OpResult, _Mapping]]] = ..., server_id: _Optional[str] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("task_ids", "agent")
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    agent: str
    def __init__(self, task_ids: _Optional[_Iterable[str]] = ..., agent: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("cancelled", "running", "stopping")
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    STOPPING_FIELD_NUMBER: _ClassVar[int]
    cancelled: _containers.RepeatedScalarFieldContainer[str]
    running: _containers.RepeatedScalarFieldContainer[str]
    stopping: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, cancelled: _Optional[_Iterable[str]] = ..., running: _Optional[_Iterable[str]] = ..., stopping: _Optional[_Iterable[str]] = ...) -> None: ...

class FetchResultRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class FetchResultResponse(_message.Message):
    __slots__ = ("outcome",)
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    outcome: Outcome
    def __init__(self, outcome: _Optional[_Union[Outcome, _Mapping]] = ...) -> None: ...

class WatchResultsRequest(_message.Message):
    __slots__ = ("task_ids", "inline_limit", "call_keys", "gather_ms")
    TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    INLINE_LIMIT_FIELD_NUMBER: _ClassVar[int]
    CALL_KEYS_FIELD_NUMBER: _ClassVar[int]
    GATHER_MS_FIELD_NUMBER: _ClassVar[int]
    task_ids: _containers.RepeatedScalarFieldContainer[str]
    inline_limit: int
    call_keys: _containers.RepeatedScalarFieldContainer[str]
    gather_ms: int
    def __init__(self, task_ids: _Optional[_Iterable[str]] = ..., inline_limit: _Optional[int] = ..., call_keys: _Optional[_Iterable[str]] = ..., gather_ms: _Optional[int] = ...) -> None: ...

class TaskResult(_message.Message):
    __slots__ = ("task_id", "outcome", "status", "call_key")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CALL_KEY_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    outcome: Outcome
    status: Status
    call_key: str
    def __init__(self, task_id: _Optional[str] = ..., outcome: _Optional[_Union[Outcome, _Mapping]] = ..., status: _Optional[_Union[Status, _Mapping]] = ..., call_key: _Optional[str] = ...) -> None: ...

class WatchResultsResponse(_message.Message):
    __slots__ = ("results", "server_id")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TaskResult]
    server_id: str
    def __init__(self, results: _Optional[_Iterable[_Union[TaskResult, _Mapping]]] = ..., server_id: _Optional[str] = ...) -> None: ...

class FetchItemsRequest(_message.Message):
    __slots__ = ("task_id", "start")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    start: int
    def __init__(self, task_id: _Optional[str] = ..., start: _Optional[int] = ...) -> None: ...

class ItemsChunk(_message.Message):
    __slots__ = ("start", "outcomes", "server_id")
    START_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    start: int
    outcomes: _containers.RepeatedScalarFieldContainer[bytes]
    server_id: str
    def __init__(self, start: _Optional[int] = ..., outcomes: _Optional[_Iterable[bytes]] = ..., server_id: _Optional[str] = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetServerInfoResponse(_message.Message):
    __slots__ = ("server_id", "pid", "address", "accepts_code", "agents", "max_message_bytes", "version", "event_seq", "started_at", "tls", "results", "shm_domain", "rss_bytes", "features")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTS_CODE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EVENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SHM_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    pid: int
    address: str
    accepts_code: bool
    agents: int
    max_message_bytes: int
    version: str
    event_seq: int
    started_at: float
    tls: bool
    results: int
    shm_domain: str
    rss_bytes: int
    features: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server_id: _Optional[str] = ..., pid: _Optional[int] = ..., address: _Optional[str] = ..., accepts_code: _Optional[bool] = ..., agents: _Optional[int] = ..., max_message_bytes: _Optional[int] = ..., version: _Optional[str] = ..., event_seq: _Optional[int] = ..., started_at: _Optional[float] = ..., tls: _Optional[bool] = ..., results: _Optional[int] = ..., shm_domain: _Optional[str] = ..., rss_bytes: _Optional[int] = ..., features: _Optional[_Iterable[str]] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShutdownResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RenewLeaseRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RenewLeaseResponse(_message.Message):
    __slots__ = ("server_id", "agents", "rss_bytes", "lease_s")
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    LEASE_S_FIELD_NUMBER: _ClassVar[int]
    server_id: str
    agents: int
    rss_bytes: int
    lease_s: float
    def __init__(self, server_id: _Optional[str] = ..., agents: _Optional[int] = ..., rss_bytes: _Optional[int] = ..., lease_s: _Optional[float] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("since_seq", "server_id")
    SINCE_SEQ_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    since_seq: int
    server_id: str
    def __init__(self, since_seq: _Optional[int] = ..., server_id: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "kind", "task_id", "agent", "caller", "inputs", "timestamp", "preview", "text", "server_id", "message_id", "direct_inputs", "chunk", "queued_at", "started_at", "input_preview", "call_key")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[Event.Kind]
        QUEUED: _ClassVar[Event.Kind]
        RUNNING: _ClassVar[Event.Kind]
        DONE: _ClassVar[Event.Kind]
        ERROR: _ClassVar[Event.Kind]
        OUTPUT: _ClassVar[Event.Kind]
        STREAMING: _ClassVar[Event.Kind]
        INPUT: _ClassVar[Event.Kind]
    KIND_UNSPECIFIED: Event.Kind
    QUEUED: Event.Kind
    RUNNING: Event.Kind
    DONE: Event.Kind
    ERROR: Event.Kind
    OUTPUT: Event.Kind
    STREAMING: Event.Kind
    INPUT: Event.Kind
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
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    QUEUED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    INPUT_PREVIEW_FIELD_NUMBER: _ClassVar[int]
    CALL_KEY_FIELD_NUMBER: _ClassVar[int]
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
    chunk: int
    queued_at: float
    started_at: float
    input_preview: str
    call_key: str
    def __init__(self, seq: _Optional[int] = ..., kind: _Optional[_Union[Event.Kind, str]] = ..., task_id: _Optional[str] = ..., agent: _Optional[str] = ..., caller: _Optional[str] = ..., inputs: _Optional[_Iterable[_Union[TaskRef, _Mapping]]] = ..., timestamp: _Optional[float] = ..., preview: _Optional[str] = ..., text: _Optional[str] = ..., server_id: _Optional[str] = ..., message_id: _Optional[str] = ..., direct_inputs: _Optional[int] = ..., chunk: _Optional[int] = ..., queued_at: _Optional[float] = ..., started_at: _Optional[float] = ..., input_preview: _Optional[str] = ..., call_key: _Optional[str] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events", "dropped", "server_id")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    dropped: int
    server_id: str
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., dropped: _Optional[int] = ..., server_id: _Optional[str] = ...) -> None: ...

class Piece(_message.Message):
    __slots__ = ("text", "message")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    text: str
    message: Message
    def __init__(self, text: _Optional[str] = ..., message: _Optional[_Union[Message, _Mapping]] = ...) -> None: ...

class StreamResultRequest(_message.Message):
    __slots__ = ("task_id", "from_piece", "call_key")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_PIECE_FIELD_NUMBER: _ClassVar[int]
    CALL_KEY_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    from_piece: int
    call_key: str
    def __init__(self, task_id: _Optional[str] = ..., from_piece: _Optional[int] = ..., call_key: _Optional[str] = ...) -> None: ...

class StreamResultResponse(_message.Message):
    __slots__ = ("first", "pieces", "outcome", "server_id")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    PIECES_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    SERVER_ID_FIELD_NUMBER: _ClassVar[int]
    first: int
    pieces: _containers.RepeatedCompositeFieldContainer[Piece]
    outcome: Outcome
    server_id: str
    def __init__(self, first: _Optional[int] = ..., pieces: _Optional[_Iterable[_Union[Piece, _Mapping]]] = ..., outcome: _Optional[_Union[Outcome, _Mapping]] = ..., server_id: _Optional[str] = ...) -> None: ...

class AnswerInputRequest(_message.Message):
    __slots__ = ("task_id", "prompt", "text", "eof")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    EOF_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    prompt: int
    text: str
    eof: bool
    def __init__(self, task_id: _Optional[str] = ..., prompt: _Optional[int] = ..., text: _Optional[str] = ..., eof: _Optional[bool] = ...) -> None: ...

class AnswerInputResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PostMortemRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class PostMortemResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
