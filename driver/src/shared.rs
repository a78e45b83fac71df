//! Shared variables: broadcast values (sent to each executor once, read-only) and accumulators
//! (tasks add, the driver reads the merged value of the successful attempts).

use std::any::Any;
use std::sync::{Arc, Mutex, OnceLock};

use serde::{Deserialize, Serialize};
use weft_executor::TaskError;

use super::lineage::Data;

/// A read-only value shipped to every executor once. Put it in an operation's environment
/// (`map_with(bc.clone(), |bc, x| …)`) and read it with [`Broadcast::value`].
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Broadcast<T> {
    id: u64,
    #[serde(skip)]
    value: OnceLock<Arc<T>>,
}

impl<T> Clone for Broadcast<T> {
    fn clone(&self) -> Self {
        let value = OnceLock::new();
        if let Some(v) = self.value.get() {
            let _ = value.set(v.clone());
        }
        Broadcast { id: self.id, value }
    }
}

impl<T: Data> Broadcast<T> {
    pub(crate) fn on_driver(id: u64, value: T) -> Broadcast<T> {
        let cell = OnceLock::new();
        let _ = cell.set(Arc::new(value));
        Broadcast { id, value: cell }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// The value: on an executor, fetched from the driver the first time any task asks.
    pub fn value(&self) -> &T {
        self.value.get_or_init(|| {
            let ctx = weft_executor::current().expect("a broadcast value is read on the driver or inside a task");
            let decode = |bytes: &[u8]| -> Result<Arc<dyn Any + Send + Sync>, TaskError> {
                let v: T = bincode::deserialize(bytes)?;
                Ok(Arc::new(v))
            };
            let any = ctx
                .services()
                .broadcast(self.id, &decode)
                .unwrap_or_else(|e| panic!("cannot read broadcast {}: {e}", self.id));
            any.downcast::<T>().unwrap_or_else(|_| panic!("broadcast {} holds another type", self.id))
        })
    }
}

/// How an accumulator's values combine.
pub trait AccumulatorValue: Data + Default {
    fn merge(&mut self, other: Self);
}

macro_rules! summing {
    ($($t:ty),*) => {$(
        impl AccumulatorValue for $t {
            fn merge(&mut self, other: Self) {
                *self += other;
            }
        }
    )*};
}
summing!(i64, u64, i32, u32, f64, usize);

impl<T: Data> AccumulatorValue for Vec<T> {
    fn merge(&mut self, mut other: Self) {
        self.append(&mut other);
    }
}

/// An add-only variable: tasks add to it; the driver reads the sum over successful task attempts.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Accumulator<T: AccumulatorValue> {
    id: u64,
    name: String,
    #[serde(skip)]
    driver: Option<Arc<Mutex<T>>>,
}

impl<T: AccumulatorValue> Clone for Accumulator<T> {
    fn clone(&self) -> Self {
        Accumulator { id: self.id, name: self.name.clone(), driver: self.driver.clone() }
    }
}

impl<T: AccumulatorValue> Accumulator<T> {
    pub(crate) fn on_driver(id: u64, name: String) -> (Accumulator<T>, Arc<Mutex<T>>) {
        let cell = Arc::new(Mutex::new(T::default()));
        (Accumulator { id, name, driver: Some(cell.clone()) }, cell)
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds `v`: inside a task, to the task's update (merged by the driver if the attempt succeeds);
    /// on the driver, directly.
    pub fn add(&self, v: T) {
        if let Some(ctx) = weft_executor::current() {
            ctx.add_accumulator_update(self.id, |old| {
                let mut acc: T = old.and_then(|b| bincode::deserialize(b).ok()).unwrap_or_default();
                acc.merge(v);
                bincode::serialize(&acc).expect("an accumulator value serializes")
            });
        } else if let Some(cell) = &self.driver {
            cell.lock().expect("accumulator lock").merge(v);
        }
    }

    /// The merged value (on the driver).
    pub fn value(&self) -> T {
        self.driver.as_ref().map(|c| c.lock().expect("accumulator lock").clone()).unwrap_or_default()
    }
}

/// Merges a task's serialized update into an accumulator's driver-side value.
pub(crate) type Merger = Box<dyn Fn(&[u8]) + Send + Sync>;

/// Merges a task's serialized update into the driver's value.
pub(crate) fn merger<T: AccumulatorValue>(cell: Arc<Mutex<T>>) -> Merger {
    Box::new(move |bytes| {
        if let Ok(v) = bincode::deserialize::<T>(bytes) {
            cell.lock().expect("accumulator lock").merge(v);
        }
    })
}

pub(crate) fn encode_value<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serialize(v).expect("a broadcast value serializes")
}
