//! The seeded data set: a product catalogue and orders referencing it, generated from
//! a seed (never stored), and the random query parameters drawn from it.

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

/// Order times are spread over this many seconds per order (one a minute on average).
pub(super) const SECONDS_PER_ORDER: i64 = 60;
/// The range query's window: about 100 orders on average.
pub(super) const RANGE_WINDOW_S: i64 = 100 * SECONDS_PER_ORDER;
/// Product categories (groups of the aggregate).
pub(super) const CATEGORIES: i32 = 20;
/// The first possible order time (Unix seconds, November 2023).
pub(super) const EPOCH_S: i64 = 1_700_000_000;

/// The data set of a run: its size and seed. The rows are generated, never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSet {
    /// Rows of `orders`.
    pub orders: u64,
    /// Rows of `products` (one per 100 orders, 10 to 100 000).
    pub products: u64,
    /// Seed of the rows and of the query parameters.
    pub seed: u64,
}

/// A row of `products`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Primary key, 1..=products.
    pub id: i64,
    /// `product-<id>`.
    pub name: String,
    /// 0..20.
    pub category: i32,
    /// 1.00 to 999.99.
    pub price_cents: i64,
}

/// A row of `orders`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Primary key, 1..=orders.
    pub id: i64,
    /// References `products.id`.
    pub product_id: i64,
    /// One customer per 10 orders on average.
    pub customer_id: i64,
    /// 1..=10.
    pub quantity: i32,
    /// Unix seconds, indexed.
    pub created_at: i64,
}

impl DataSet {
    /// A data set of `orders` orders from `seed`.
    pub fn new(orders: u64, seed: u64) -> DataSet {
        DataSet {
            orders,
            products: (orders / 100).clamp(10, 100_000),
            seed,
        }
    }

    /// The products, in id order; the same seed gives the same rows.
    pub fn products(&self) -> impl Iterator<Item = Product> {
        let mut rng = SmallRng::seed_from_u64(self.seed);
        (1..=self.products as i64).map(move |id| Product {
            id,
            name: format!("product-{id}"),
            category: rng.random_range(0..CATEGORIES),
            price_cents: rng.random_range(100..100_000),
        })
    }

    /// The orders, in id order; the same seed gives the same rows.
    pub fn orders(&self) -> impl Iterator<Item = Order> {
        let mut rng = SmallRng::seed_from_u64(self.seed ^ 0x6f72_6465_7273);
        let products = self.products as i64;
        let customers = (self.orders as i64 / 10).max(1);
        let span = self.span_s();
        (1..=self.orders as i64).map(move |id| Order {
            id,
            product_id: rng.random_range(1..=products),
            customer_id: rng.random_range(1..=customers),
            quantity: rng.random_range(1..=10),
            created_at: EPOCH_S + rng.random_range(0..span),
        })
    }

    pub(super) fn span_s(&self) -> i64 {
        (self.orders as i64 * SECONDS_PER_ORDER).max(RANGE_WINDOW_S + 1)
    }

    /// The query parameters: a seeded stream, the same on both engines.
    pub(super) fn params(&self) -> Params {
        Params {
            rng: SmallRng::seed_from_u64(self.seed ^ 0x0071_7565_7269_6573),
            orders: self.orders as i64,
            span: self.span_s(),
        }
    }

    pub(super) fn describe(&self) -> String {
        format!(
            "{} orders, {} products, seed {:#x}",
            self.orders, self.products, self.seed
        )
    }
}

pub(super) struct Params {
    rng: SmallRng,
    orders: i64,
    span: i64,
}

impl Params {
    pub(super) fn id(&mut self) -> i64 {
        self.rng.random_range(1..=self.orders)
    }

    pub(super) fn window(&mut self) -> (i64, i64) {
        let from = EPOCH_S + self.rng.random_range(0..self.span - RANGE_WINDOW_S);
        (from, from + RANGE_WINDOW_S)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_the_same_data_set() {
        let a = DataSet::new(5_000, 42);
        let b = DataSet::new(5_000, 42);
        assert_eq!(
            a.products().collect::<Vec<_>>(),
            b.products().collect::<Vec<_>>()
        );
        assert_eq!(
            a.orders().collect::<Vec<_>>(),
            b.orders().collect::<Vec<_>>()
        );
        let c = DataSet::new(5_000, 43);
        assert_ne!(
            a.orders().collect::<Vec<_>>(),
            c.orders().collect::<Vec<_>>()
        );
    }

    #[test]
    fn orders_reference_existing_products_and_ids_are_dense() {
        let d = DataSet::new(3_000, 7);
        assert_eq!(d.products, 30);
        let orders: Vec<_> = d.orders().collect();
        assert_eq!(orders.len(), 3_000);
        for (i, o) in orders.iter().enumerate() {
            assert_eq!(o.id, i as i64 + 1);
            assert!((1..=d.products as i64).contains(&o.product_id));
            assert!((1..=10).contains(&o.quantity));
            assert!(o.created_at >= EPOCH_S && o.created_at < EPOCH_S + d.span_s());
        }
    }
}
