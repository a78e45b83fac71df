//! REST errors in YARN's RemoteException shape: the shared type of `weft-daemon`.

pub(crate) use weft_daemon::rest::RemoteException as RestError;
