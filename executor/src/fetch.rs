//! A reducer's shuffle input, fetched lazily, a frame at a time. Local blocks are read from this
//! executor's shuffle files one after the other, and so are the blocks of other executors on this
//! host, from their shuffle directories (Spark's `spark.shuffle.readHostLocalDisk`, on by default:
//! the bytes do not go through the other executor and a socket); remote blocks are asked for in requests of about
//! `spark.reducer.maxSizeInFlight / 5` per executor (Spark's `targetRequestSize`), streamed over
//! `FetchBlocks`, with at most `maxSizeInFlight` of requests started and not yet read. A failure is
//! `FetchFailed` naming the map output, whenever it happens during the iteration.
//!
//! [`plan_requests`] is the pure part: which blocks are local and how remote ones are grouped.

use std::collections::{BTreeMap, HashMap, VecDeque};

use futures::StreamExt;
use tokio::runtime::Handle;
use weft_proto::spark_pb::executor_endpoint_client::ExecutorEndpointClient;
use weft_proto::spark_pb::{self as pb};

use crate::auth::AuthChannel;
use crate::context::{FetchedFrame, MapLocation};
use crate::encoding::{split_stored, FrameCodec};
use crate::error::TaskError;
use crate::shuffle::{self, BlockFrames, ShuffleFiles};

/// Remote blocks of one executor asked for in one `FetchBlocks` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRequest {
    pub address: String,
    /// Indices into the reducer's map outputs, in map order.
    pub maps: Vec<usize>,
    pub bytes: u64,
}

/// Where a reducer runs: its executor's address and, when it reads other executors' blocks on its
/// host from their directories, its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    pub address: String,
    pub host_local: Option<String>,
}

impl Here {
    /// Whether `m`'s block is read from a file on this host.
    pub fn reads_file(&self, m: &MapLocation) -> bool {
        m.address == self.address
            || self.host_local.as_deref().is_some_and(|host| m.host == host && !m.shuffle_dir.is_empty())
    }
}

/// Which map outputs are read from files on this host (in map order) and the remote requests, in the
/// order they are started: one request of each executor in turn, so no executor serves all the first
/// requests. Empty blocks are skipped.
pub fn plan_requests(maps: &[MapLocation], here: &Here, max_in_flight: u64) -> (Vec<usize>, Vec<RemoteRequest>) {
    let target = (max_in_flight / 5).max(1);
    let mut local = Vec::new();
    let mut by_address: BTreeMap<&str, Vec<RemoteRequest>> = BTreeMap::new();
    let mut first_seen: Vec<&str> = Vec::new();
    for (i, m) in maps.iter().enumerate() {
        if m.size == 0 {
            continue;
        }
        if here.reads_file(m) {
            local.push(i);
            continue;
        }
        let requests = by_address.entry(m.address.as_str()).or_insert_with(|| {
            first_seen.push(m.address.as_str());
            Vec::new()
        });
        match requests.last_mut() {
            Some(open) if open.bytes < target => {
                open.maps.push(i);
                open.bytes += m.size;
            }
            _ => requests.push(RemoteRequest { address: m.address.clone(), maps: vec![i], bytes: m.size }),
        }
    }
    let mut queues: Vec<VecDeque<RemoteRequest>> =
        first_seen.iter().map(|a| by_address.remove(a).unwrap_or_default().into()).collect();
    let mut ordered = Vec::new();
    while queues.iter().any(|q| !q.is_empty()) {
        ordered.extend(queues.iter_mut().filter_map(VecDeque::pop_front));
    }
    (local, ordered)
}

/// Everything a fetch needs from its executor.
pub(crate) struct FetchSetup {
    pub(crate) shuffle_id: u32,
    pub(crate) reduce: u32,
    pub(crate) maps: Vec<MapLocation>,
    pub(crate) here: Here,
    pub(crate) max_in_flight: u64,
    pub(crate) files: ShuffleFiles,
    pub(crate) handle: Handle,
    /// A client per remote address (an `Err` says why there is none).
    pub(crate) clients: HashMap<String, Result<ExecutorEndpointClient<AuthChannel>, String>>,
}

/// A started request: its chunks arrive on `chunks` as the consumer reads them.
struct InFlight {
    request: RemoteRequest,
    chunks: tokio::sync::mpsc::Receiver<Result<pb::BlockChunk, String>>,
    /// The block being received (an index into `request.maps`).
    block: usize,
    pending: Vec<u8>,
    ready: VecDeque<FetchedFrame>,
}

/// The iterator of a reducer's frames.
pub(crate) struct ShuffleFetch {
    setup: FetchSetup,
    codec: FrameCodec,
    local: VecDeque<usize>,
    reading: Option<(usize, BlockFrames)>,
    waiting: VecDeque<RemoteRequest>,
    in_flight: VecDeque<InFlight>,
    bytes_in_flight: u64,
    done: bool,
}

impl ShuffleFetch {
    pub(crate) fn new(setup: FetchSetup) -> ShuffleFetch {
        let (local, remote) = plan_requests(&setup.maps, &setup.here, setup.max_in_flight);
        let codec = setup.files.codec();
        let mut fetch = ShuffleFetch {
            setup,
            codec,
            local: local.into(),
            reading: None,
            waiting: remote.into(),
            in_flight: VecDeque::new(),
            bytes_in_flight: 0,
            done: false,
        };
        fetch.start_requests();
        fetch
    }

    fn fetch_failed(&self, map: usize, message: String) -> TaskError {
        let m = &self.setup.maps[map];
        TaskError::FetchFailed {
            executor_id: m.executor_id.clone(),
            address: m.address.clone(),
            shuffle_id: self.setup.shuffle_id,
            map_index: m.map_index,
            reduce_id: self.setup.reduce,
            message,
        }
    }

    /// Starts waiting requests while they fit under the limit (always one when none is in flight).
    fn start_requests(&mut self) {
        while let Some(next) = self.waiting.front() {
            if !self.in_flight.is_empty() && self.bytes_in_flight + next.bytes > self.setup.max_in_flight {
                return;
            }
            let request = self.waiting.pop_front().expect("peeked");
            self.start(request);
        }
    }

    fn start(&mut self, request: RemoteRequest) {
        let chunk_bound: u64 = request.maps.iter().map(|&i| self.setup.maps[i].size.div_ceil(CHUNK) + 1).sum();
        // A request of several blocks is small (a fifth of the limit) and is buffered whole; one big
        // block streams through a buffer of the limit.
        let capacity = chunk_bound.min((self.setup.max_in_flight / CHUNK).max(2)) as usize;
        let (tx, rx) = tokio::sync::mpsc::channel(capacity);
        let names: Vec<String> = request
            .maps
            .iter()
            .map(|&i| shuffle::block_name(self.setup.shuffle_id, self.setup.maps[i].map_index, self.setup.reduce))
            .collect();
        let client = self.setup.clients.get(&request.address).cloned();
        self.setup.handle.spawn(async move {
            let mut client = match client {
                Some(Ok(client)) => client,
                Some(Err(e)) => return drop(tx.send(Err(e)).await),
                None => return drop(tx.send(Err("no client for the executor".to_owned())).await),
            };
            let mut stream = match client.fetch_blocks(pb::FetchBlocksRequest { block_ids: names }).await {
                Ok(response) => response.into_inner(),
                Err(status) => return drop(tx.send(Err(status.message().to_owned())).await),
            };
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|s| s.message().to_owned());
                let failed = chunk.is_err();
                // The reducer went away (done, failed or killed): stop the stream.
                if tx.send(chunk).await.is_err() || failed {
                    return;
                }
            }
        });
        self.bytes_in_flight += request.bytes;
        self.in_flight.push_back(InFlight {
            request,
            chunks: rx,
            block: 0,
            pending: Vec::new(),
            ready: VecDeque::new(),
        });
    }

    fn next_local(&mut self) -> Option<Result<FetchedFrame, TaskError>> {
        loop {
            if let Some((map, frames)) = self.reading.as_mut() {
                let map = *map;
                match frames.next_stored() {
                    Ok(Some(payload)) => {
                        let stored_bytes = payload.len() as u64 + 4;
                        return Some(
                            self.codec
                                .decode(payload)
                                .map(|raw| FetchedFrame { raw, stored_bytes, remote: false })
                                .map_err(|e| self.fetch_failed(map, e.to_string())),
                        );
                    }
                    Ok(None) => self.reading = None,
                    Err(e) => return Some(Err(self.fetch_failed(map, e.to_string()))),
                }
            }
            let map = self.local.pop_front()?;
            let m = &self.setup.maps[map];
            let opened = if m.address == self.setup.here.address {
                self.setup.files.open_block(self.setup.shuffle_id, m.map_index, self.setup.reduce)
            } else {
                ShuffleFiles::elsewhere(m.shuffle_dir.clone().into(), self.codec).open_block(
                    self.setup.shuffle_id,
                    m.map_index,
                    self.setup.reduce,
                )
            };
            match opened {
                Ok(frames) => self.reading = Some((map, frames)),
                Err(e) => return Some(Err(self.fetch_failed(map, e.to_string()))),
            }
        }
    }

    fn next_remote(&mut self) -> Option<Result<FetchedFrame, TaskError>> {
        loop {
            let front = self.in_flight.front_mut()?;
            if let Some(frame) = front.ready.pop_front() {
                return Some(Ok(frame));
            }
            if front.block == front.request.maps.len() {
                let finished = self.in_flight.pop_front().expect("a front request");
                self.bytes_in_flight -= finished.request.bytes;
                self.start_requests();
                continue;
            }
            let map = front.request.maps[front.block];
            let address = front.request.address.clone();
            let received = match front.chunks.blocking_recv() {
                Some(Ok(chunk)) => receive(front, chunk, self.codec),
                Some(Err(message)) => Err(message),
                None => Err(format!("the stream ended after {} of {} blocks", front.block, front.request.maps.len())),
            };
            if let Err(message) = received {
                return Some(Err(self.fetch_failed(map, format!("failed to fetch from {address}: {message}"))));
            }
        }
    }
}

/// Takes one chunk of the block being received, turning whole frames into ready ones.
fn receive(flight: &mut InFlight, chunk: pb::BlockChunk, codec: FrameCodec) -> Result<(), String> {
    if chunk.index as usize != flight.block {
        return Err(format!("a chunk of block {} while block {} was expected", chunk.index, flight.block));
    }
    flight.pending.extend_from_slice(&chunk.data);
    let (frames, used) = split_stored(&flight.pending);
    for payload in frames {
        let raw = codec.decode(payload.to_vec()).map_err(|e| e.to_string())?;
        flight.ready.push_back(FetchedFrame { raw, stored_bytes: payload.len() as u64 + 4, remote: true });
    }
    flight.pending.drain(..used);
    if chunk.last {
        if !flight.pending.is_empty() {
            return Err(format!(
                "block {} ends inside a frame ({} bytes left over)",
                flight.block,
                flight.pending.len()
            ));
        }
        flight.block += 1;
    }
    Ok(())
}

/// Chunks of a block on the wire, as the serving side cuts them.
const CHUNK: u64 = crate::plan::CHUNK as u64;

impl Iterator for ShuffleFetch {
    type Item = Result<FetchedFrame, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self.next_local().or_else(|| self.next_remote());
        if !matches!(next, Some(Ok(_))) {
            self.done = true;
            // Dropping the receivers stops the streams still running.
            self.in_flight.clear();
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(index: u32, address: &str, size: u64) -> MapLocation {
        MapLocation {
            map_index: index,
            executor_id: address.to_owned(),
            address: address.to_owned(),
            host: String::new(),
            shuffle_dir: String::new(),
            size,
        }
    }

    fn here() -> Here {
        Here { address: "here".to_owned(), host_local: None }
    }

    #[test]
    fn local_blocks_are_read_and_remote_ones_grouped_by_executor_in_turn() {
        let maps = vec![
            map(0, "here", 10),
            map(1, "a", 4),
            map(2, "b", 4),
            map(3, "a", 4),
            map(4, "here", 0),
            map(5, "a", 30),
            map(6, "a", 1),
            map(7, "b", 0),
            map(8, "here", 5),
        ];
        // Limit 50: requests of about 10.
        let (local, remote) = plan_requests(&maps, &here(), 50);
        assert_eq!(local, vec![0, 8], "empty blocks are skipped");
        let got: Vec<(&str, Vec<usize>, u64)> =
            remote.iter().map(|r| (r.address.as_str(), r.maps.clone(), r.bytes)).collect();
        assert_eq!(got, vec![("a", vec![1, 3, 5], 38), ("b", vec![2], 4), ("a", vec![6], 1)]);
    }

    #[test]
    fn blocks_of_executors_on_this_host_are_read_from_their_files_when_asked_to() {
        let on = |index: u32, address: &str, host: &str, dir: &str| MapLocation {
            host: host.to_owned(),
            shuffle_dir: dir.to_owned(),
            ..map(index, address, 10)
        };
        let maps =
            vec![on(0, "a", "h1", "/a"), on(1, "b", "h2", "/b"), on(2, "c", "h1", ""), on(3, "here", "h1", "/here")];
        let host_local = Here { address: "here".to_owned(), host_local: Some("h1".to_owned()) };
        let (local, remote) = plan_requests(&maps, &host_local, 50);
        assert_eq!(local, vec![0, 3], "same host with a known directory, and this executor's own");
        let remote: Vec<&str> = remote.iter().map(|r| r.address.as_str()).collect();
        assert_eq!(remote, vec!["b", "c"]);
        let (local, _) = plan_requests(&maps, &here(), 50);
        assert_eq!(local, vec![3], "spark.shuffle.readHostLocalDisk=false: only its own");
    }

    #[test]
    fn a_host_local_block_is_read_from_the_other_executors_directory_and_its_loss_names_that_executor() {
        use crate::plan::ShuffleSink;
        let mine = tempfile::tempdir().unwrap();
        let theirs = tempfile::tempdir().unwrap();
        let files = ShuffleFiles::new(theirs.path().to_owned(), true).unwrap();
        let mut writer = files.writer(2, 4, 1, 2).unwrap();
        writer.write_frame(1, b"their frame").unwrap();
        let sizes = writer.commit().unwrap();
        let rt = runtime();
        let dir = theirs.path().to_str().unwrap();
        let at = |index: u32, size: u64| MapLocation {
            host: "h1".to_owned(),
            shuffle_dir: dir.to_owned(),
            ..map(index, "there", size)
        };
        let mut setup = setup(vec![at(4, sizes[1]), at(5, 10)], mine.path(), rt.handle().clone(), 1 << 20);
        setup.here.host_local = Some("h1".to_owned());
        let mut fetch = ShuffleFetch::new(setup);
        let frame = fetch.next().unwrap().unwrap();
        assert_eq!((&*frame.raw, frame.remote), (b"their frame".as_slice(), false));
        match fetch.next() {
            Some(Err(TaskError::FetchFailed { map_index: 5, executor_id, message, .. })) => {
                assert_eq!(executor_id, "there");
                assert!(message.contains("shuffle_2_5_0.index"), "{message}");
            }
            other => panic!("not a fetch failure of map 5: {other:?}"),
        }
    }

    #[test]
    fn chunks_become_frames_whatever_their_cut() {
        let codec = FrameCodec::new(true);
        let mut stored = Vec::new();
        codec.encode_into(b"first frame", &mut stored).unwrap();
        codec.encode_into(b"second", &mut stored).unwrap();
        let (_tx, rx) = tokio::sync::mpsc::channel(1);
        let request = RemoteRequest { address: "a".into(), maps: vec![0, 1], bytes: stored.len() as u64 };
        let mut flight = InFlight { request, chunks: rx, block: 0, pending: Vec::new(), ready: VecDeque::new() };
        for (i, piece) in stored.chunks(5).enumerate() {
            let last = (i + 1) * 5 >= stored.len();
            receive(&mut flight, pb::BlockChunk { index: 0, data: piece.to_vec(), last }, codec).unwrap();
        }
        let frames: Vec<Vec<u8>> = flight.ready.drain(..).map(|f| f.raw.to_vec()).collect();
        assert_eq!(frames, vec![b"first frame".to_vec(), b"second".to_vec()]);
        assert_eq!(flight.block, 1);
        let wrong = receive(&mut flight, pb::BlockChunk { index: 0, data: Vec::new(), last: true }, codec);
        assert!(wrong.unwrap_err().contains("while block 1 was expected"));
        let cut = receive(&mut flight, pb::BlockChunk { index: 1, data: stored[..6].to_vec(), last: true }, codec);
        assert!(cut.unwrap_err().contains("ends inside a frame"));
    }

    fn setup(maps: Vec<MapLocation>, dir: &std::path::Path, handle: Handle, max_in_flight: u64) -> FetchSetup {
        let clients = maps
            .iter()
            .filter(|m| m.address != "here")
            .map(|m| (m.address.clone(), Err(format!("no route to {}", m.address))))
            .collect();
        FetchSetup {
            shuffle_id: 2,
            reduce: 1,
            maps,
            here: here(),
            max_in_flight,
            files: ShuffleFiles::new(dir.to_owned(), true).unwrap(),
            handle,
            clients,
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    #[test]
    fn local_frames_come_one_at_a_time_then_a_missing_output_is_a_fetch_failure_naming_it() {
        use crate::plan::ShuffleSink;
        let dir = tempfile::tempdir().unwrap();
        let files = ShuffleFiles::new(dir.path().to_owned(), true).unwrap();
        let mut writer = files.writer(2, 0, 1, 2).unwrap();
        writer.write_frame(1, b"frame one").unwrap();
        writer.write_frame(1, b"frame two").unwrap();
        let sizes = writer.commit().unwrap();
        let rt = runtime();
        let maps = vec![map(0, "here", sizes[1]), map(1, "here", 0), map(3, "here", 10)];
        let mut fetch = ShuffleFetch::new(setup(maps, dir.path(), rt.handle().clone(), 1 << 20));
        let first = fetch.next().unwrap().unwrap();
        assert_eq!((&*first.raw, first.remote), (b"frame one".as_slice(), false));
        assert_eq!(&*fetch.next().unwrap().unwrap().raw, b"frame two");
        match fetch.next() {
            Some(Err(TaskError::FetchFailed { map_index: 3, reduce_id: 1, shuffle_id: 2, message, .. })) => {
                assert!(message.contains("shuffle_2_3_0.index"), "{message}")
            }
            other => panic!("not a fetch failure of map 3: {other:?}"),
        }
        assert!(fetch.next().is_none(), "nothing after a failure");
    }

    #[test]
    fn remote_requests_start_within_max_size_in_flight_and_fail_naming_their_map() {
        let dir = tempfile::tempdir().unwrap();
        let rt = runtime();
        let maps: Vec<MapLocation> = (0..6).map(|i| map(i, if i % 2 == 0 { "a" } else { "b" }, 10)).collect();
        // A limit of 25: requests of one 10-byte block each, two in flight.
        let mut fetch = ShuffleFetch::new(setup(maps, dir.path(), rt.handle().clone(), 25));
        assert_eq!((fetch.in_flight.len(), fetch.bytes_in_flight, fetch.waiting.len()), (2, 20, 4));
        match fetch.next() {
            Some(Err(TaskError::FetchFailed { map_index: 0, executor_id, message, .. })) => {
                assert_eq!(executor_id, "a");
                assert_eq!(message, "failed to fetch from a: no route to a");
            }
            other => panic!("not a fetch failure of map 0: {other:?}"),
        }
        assert!(fetch.next().is_none());
    }
}
