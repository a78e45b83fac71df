//! Broadcast variables and accumulators

use super::*;

pub(crate) fn lookup(table: &Broadcast<Vec<String>>, x: u64) -> String {
    let table = table.value();
    table[x as usize % table.len()].clone()
}

pub(crate) fn shared_variables(suite: &mut Suite, t: &Ctx) {
    let data = scrambled(1000, 17, 10_000);
    suite.check("broadcast: the value read in map_with", || {
        let table = words(37, 18);
        let bc = t.sc.broadcast(table.clone());
        same("on the driver", bc.value(), &table)?;
        let got = t.sc.parallelize(data.clone(), 4).map_with(bc.clone(), lookup).collect()?;
        let want: Vec<String> = data.iter().map(|&x| table[x as usize % table.len()].clone()).collect();
        same("looked up", &got, &want)?;
        let again = t.sc.parallelize(data.clone(), 3).map_with(bc, lookup).collect()?;
        same("a second job", &again, &want)
    });
    suite.check("accumulators: sums and vectors after foreach", || {
        let total = t.sc.accumulator::<u64>("total");
        let seen = t.sc.accumulator::<Vec<u64>>("seen");
        let rdd = t.sc.parallelize(data.clone(), 4);
        rdd.foreach_with(total.clone(), |acc: &Accumulator<u64>, x: u64| acc.add(x))?;
        same("sum", &total.value(), &data.iter().sum())?;
        rdd.foreach_with(seen.clone(), |acc: &Accumulator<Vec<u64>>, x: u64| acc.add(vec![x]))?;
        same("records seen", &sorted(seen.value()), &sorted(data.clone()))?;
        total.add(5);
        same("added on the driver", &total.value(), &(data.iter().sum::<u64>() + 5))
    });
}
