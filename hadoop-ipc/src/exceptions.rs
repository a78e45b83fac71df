//! Java exception class names a Hadoop client turns back into exceptions (facts/hadoop-ipc.md §2.5).
//! The YARN client loads the class by name, so a handler's error must name the exact class.

/// An unknown method on a known protocol.
pub const NO_SUCH_METHOD: &str = "org.apache.hadoop.ipc.RpcNoSuchMethodException";
/// A protocol this server does not serve.
pub const NO_SUCH_PROTOCOL: &str = "org.apache.hadoop.ipc.RpcNoSuchProtocolException";
/// A frame that breaks the protocol (bad header, frame out of place, oversize).
pub const IPC: &str = "org.apache.hadoop.ipc.IpcException";
/// A failed SASL exchange.
pub const SASL: &str = "javax.security.sasl.SaslException";
/// An authentication method the server does not accept.
pub const ACCESS_CONTROL: &str = "org.apache.hadoop.security.AccessControlException";
/// A token the server did not issue or no longer honours.
pub const INVALID_TOKEN: &str = "org.apache.hadoop.security.token.SecretManager$InvalidToken";
/// A server-side failure with nothing more specific to say.
pub const IO: &str = "java.io.IOException";

/// YARN's base exception.
pub const YARN: &str = "org.apache.hadoop.yarn.exceptions.YarnException";
/// Spark's monitor takes it as KILLED; `YarnClientImpl.submitApplication` re-submits on it.
pub const APPLICATION_NOT_FOUND: &str = "org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException";
/// Spark's AM gives up on it.
pub const APPLICATION_ATTEMPT_NOT_FOUND: &str = "org.apache.hadoop.yarn.exceptions.ApplicationAttemptNotFoundException";
/// AMRMClient re-registers and re-sends its asks on it.
pub const APPLICATION_MASTER_NOT_REGISTERED: &str =
    "org.apache.hadoop.yarn.exceptions.ApplicationMasterNotRegisteredException";
pub const INVALID_RESOURCE_REQUEST: &str = "org.apache.hadoop.yarn.exceptions.InvalidResourceRequestException";
pub const CONTAINER_NOT_FOUND: &str = "org.apache.hadoop.yarn.exceptions.ContainerNotFoundException";
/// A client of another IPC version.
pub const VERSION_MISMATCH: &str = "org.apache.hadoop.ipc.RPC$VersionMismatch";
