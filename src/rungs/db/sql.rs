//! The SQL text of the run: the same tables, index and queries for SQLite and
//! PostgreSQL, under a schema prefix on PostgreSQL.

/// The SQL of one engine: table names qualified by `prefix`, ids of `id_type`; the
/// three timed queries are built once, outside the timed loops.
pub(crate) struct Sql {
    pub(crate) prefix: String,
    pub(crate) id_type: &'static str,
    pub(crate) point: String,
    pub(crate) range: String,
    pub(crate) aggregate: String,
    /// The aggregate over the first `$1` orders (ids are 1..N, so each size is a
    /// prefix of the next).
    pub(crate) aggregate_upto: String,
    pub(crate) update: String,
    /// The product page: the aggregate JOIN restricted to one product (a scan of the
    /// orders: there is no index on `product_id`, so it stays the expensive query).
    pub(crate) page: String,
}

impl Sql {
    pub(crate) fn new(prefix: String, id_type: &'static str) -> Sql {
        let p = &prefix;
        Sql {
            point: format!(
                "SELECT id, product_id, customer_id, quantity, created_at FROM {p}orders \
                 WHERE id = $1"
            ),
            range: format!(
                "SELECT id, quantity FROM {p}orders WHERE created_at >= $1 AND created_at < $2"
            ),
            aggregate: format!(
                "SELECT p.category, COUNT(*), SUM(o.quantity * p.price_cents) \
                 FROM {p}orders o JOIN {p}products p ON p.id = o.product_id \
                 GROUP BY p.category ORDER BY p.category"
            ),
            aggregate_upto: format!(
                "SELECT p.category, COUNT(*), SUM(o.quantity * p.price_cents) \
                 FROM {p}orders o JOIN {p}products p ON p.id = o.product_id \
                 WHERE o.id <= $1 GROUP BY p.category ORDER BY p.category"
            ),
            update: format!("UPDATE {p}orders SET quantity = quantity + 1 WHERE id = $1"),
            page: format!(
                "SELECT p.name, COUNT(*), CAST(SUM(o.quantity * p.price_cents) AS BIGINT), MAX(o.created_at) \
                 FROM {p}orders o JOIN {p}products p ON p.id = o.product_id \
                 WHERE p.id = $1 GROUP BY p.name"
            ),
            prefix,
            id_type,
        }
    }

    pub(crate) fn create_tables(&self) -> String {
        let (p, id) = (&self.prefix, self.id_type);
        format!(
            "CREATE TABLE {p}products (id {id} PRIMARY KEY, name TEXT NOT NULL, \
             category INTEGER NOT NULL, price_cents BIGINT NOT NULL);
             CREATE TABLE {p}orders (id {id} PRIMARY KEY, product_id BIGINT NOT NULL, \
             customer_id BIGINT NOT NULL, quantity INTEGER NOT NULL, created_at BIGINT NOT NULL);"
        )
    }

    pub(crate) fn index_and_analyze(&self) -> String {
        let p = &self.prefix;
        format!(
            "CREATE INDEX orders_created_at ON {p}orders (created_at);
             ANALYZE {p}products; ANALYZE {p}orders;"
        )
    }
}
