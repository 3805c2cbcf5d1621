-- reconciliation_amounts: the sums of one reconciliation group, as select-list items.
-- purpose: the amounts both reconciliation queries take from the priced rows (amount NOT NULL) of
--   `reconciliation_facts` per group, last in their `priced` CTE: billed (counted Usage lines),
--   credits (counted lines of any other charge_category), billed_excluded (lines of a billing
--   source left out as a double count), billing_source / superseded_sources, the longest counted
--   charge period (_bill_hours, read by fragments/reconciliation_measures.sql), usage_priced,
--   traced and traced_calls. Column meanings: the header of queries/reconciliation.sql.
-- parameters: none
-- grain: select-list items of one group.
        sum(amount) FILTER (WHERE kind = 'billed' AND counted AND charge_category = 'Usage') AS billed,
        sum(amount) FILTER (WHERE kind = 'billed' AND counted
                            AND charge_category IS DISTINCT FROM 'Usage') AS credits,
        sum(amount) FILTER (WHERE kind = 'billed' AND NOT counted) AS billed_excluded,
        string_agg(DISTINCT billing_source, ', ' ORDER BY billing_source)
            FILTER (WHERE kind = 'billed' AND counted) AS billing_source,
        string_agg(DISTINCT billing_source, ', ' ORDER BY billing_source)
            FILTER (WHERE kind = 'billed' AND NOT counted) AS superseded_sources,
        max(bill_period_hours) FILTER (WHERE kind = 'billed' AND counted) AS _bill_hours,
        sum(amount) FILTER (WHERE kind = 'usage') AS usage_priced,
        sum(amount) FILTER (WHERE kind = 'traced') AS traced,
        CAST(coalesce(sum(n_calls) FILTER (WHERE kind = 'traced'), 0) AS BIGINT) AS traced_calls
