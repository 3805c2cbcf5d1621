-- charges_llm: the LLM token charges of the bill, keyed like usage and calls, with each bill
-- purpose: reconciliation input (queries/reconciliation*.sql via reconciliation_facts), and a
--          view to query directly: which bill lines are LLM tokens, under which provider key,
--          and which billing source was counted.
-- parameters: none (a view over `charges`).
-- grain: one row per `charges` row that is an LLM token charge.
--
-- notes:
--            counted once even when the lake holds it from two billing sources.
--   Which rows: compute_kind = 'tokens'; or compute_kind NULL with a model, or from OpenAI /
--     Anthropic (an OpenAI Costs API / Anthropic cost report pulled without grouping by line item
--     has no model and no kind; those rows stay, under model NULL; a cloud invoice's tax or
--     rounding line has no kind either and stays out). Not included: provisioned throughput (PTU / model
--     units are billed by the hour and `calls` does not token-price 'provisioned' calls), context
--     cache storage, audio minutes, images, tool calls, GPU hours: traces cannot explain them
--     with token prices. Every charge_category is kept (credits, refunds, discounts); the
--     reconciliation separates Usage from the rest.
--
--   provider (the key shared with usage.provider / spans.provider, i.e. costlab.names
--     normalise_provider's names), from service_provider_name (FOCUS ProviderName), else
--     host_provider_name, and service_name, as the ingestors write them:
--       'OpenAI' (openai_costs, openai_cost_csv)                        -> openai
--       'Anthropic' (anthropic_cost)                                    -> anthropic
--       'AWS' / 'Amazon Web Services' (aws_cur, aws_cur2, focus) with service_name containing
--         'Bedrock' ('Amazon Bedrock', Marketplace '<model> (Amazon Bedrock Edition)')
--                                                                       -> aws.bedrock
--         other AWS services                                            -> aws
--       'Microsoft' / 'Azure' (azure_cost: 'Cognitive Services', 'Foundry Models'; focus:
--         'Azure AI Services'): Azure OpenAI and Foundry models          -> azure
--       'Google' / 'Google Cloud' (gcp_billing: 'Vertex AI', 'Gemini API'; Claude on Vertex too)
--                                                                       -> google
--       'Oracle' (oci_cost_report, focus)                               -> oci
--       anything else: lower-cased and trimmed, as normalise_provider keeps unknown names.
--     Bedrock calls carry provider 'aws.bedrock' in traces, so Bedrock charges reconcile with
--     Bedrock-routed calls, not with Anthropic's own API bill.
--
--   Double counting: the same bill can sit in the lake twice, from two billing sources (AWS CUR
--     1.0 and CUR 2.0, FOCUS and CUR of one account, the OpenAI Costs API and the dashboard CSV).
--     billing_source is the source_format ('/amortized' appended for Azure amortized exports).
--     Two billing sources overlap when they bill the same provider, the same billing month
--     (billing_period_start, else the UTC month of charge_period_start) and the same
--     billing account (billing_account_key: billing_account_id, or the id inside an Azure ARM path
--     '/providers/Microsoft.Billing/billingAccounts/<id>' as FOCUS writes it), a NULL account matching any (the OpenAI Costs API and Anthropic's
--     report carry none). Of overlapping sources only the preferred one is counted
--     (counted = TRUE); the others keep their rows with counted = FALSE and superseded_by naming
--     the counted source. Preference (source_rank, lower wins; ties by name):
--       1 provider APIs: openai_costs, anthropic_cost   (line-item detail, no export lag)
--       2 openai_cost_csv                                (dashboard export of the same costs)
--       3 other provider-native exports: azure_cost, gcp_billing, oci_cost_report
--       4 aws_cur2   5 aws_cur   (CUR 2.0 is the maintained successor of the legacy CUR)
--       6 focus      (a conversion of the native data; kept when it is the only source)
--       7 anything else; an Azure amortized export ranks just after its actual export.
WITH base AS (
    SELECT
        c.*,
        CASE
            WHEN _sp = 'openai' THEN 'openai'
            WHEN _sp IN ('anthropic', 'anthropic, pbc') THEN 'anthropic'
            WHEN _sp IN ('aws', 'amazon', 'amazon web services')
              OR _sp LIKE 'amazon web services%'
                THEN CASE WHEN c.service_name ILIKE '%bedrock%' THEN 'aws.bedrock' ELSE 'aws' END
            WHEN _sp IN ('microsoft', 'azure', 'microsoft azure') THEN 'azure'
            WHEN _sp IN ('google', 'google cloud', 'google cloud platform', 'gcp') THEN 'google'
            WHEN _sp IN ('oracle', 'oci', 'oracle cloud infrastructure') THEN 'oci'
            ELSE _sp
        END AS provider,
        -- Azure FOCUS writes the ARM path '/providers/Microsoft.Billing/billingAccounts/<id>',
        -- Azure's own exports the bare <id>: compare the id
        coalesce(nullif(regexp_extract(c.billing_account_id, '(?i)/billingAccounts/([^/]+)', 1), ''),
                 c.billing_account_id) AS billing_account_key,
        CAST(date_trunc('month', timezone('UTC', coalesce(c.billing_period_start, c.charge_period_start)))
             AS DATE) AS billing_month,
        c.source_format || CASE WHEN c.cost_dataset = 'amortized' THEN '/amortized' ELSE '' END
            AS billing_source,
        2 * CASE c.source_format
                WHEN 'openai_costs' THEN 1
                WHEN 'anthropic_cost' THEN 1
                WHEN 'openai_cost_csv' THEN 2
                WHEN 'azure_cost' THEN 3
                WHEN 'gcp_billing' THEN 3
                WHEN 'oci_cost_report' THEN 3
                WHEN 'aws_cur2' THEN 4
                WHEN 'aws_cur' THEN 5
                WHEN 'focus' THEN 6
                ELSE 7
            END + CASE WHEN c.cost_dataset = 'amortized' THEN 1 ELSE 0 END AS source_rank
    FROM (
        SELECT *, nullif(lower(trim(coalesce(service_provider_name, host_provider_name))), '') AS _sp
        FROM charges
    ) AS c
    WHERE c.compute_kind = 'tokens'
       OR (c.compute_kind IS NULL AND (c.model IS NOT NULL OR c._sp IN ('openai', 'anthropic')))
),
sources AS (
    SELECT DISTINCT provider, billing_account_key, billing_month, billing_source, source_rank
    FROM base
),
superseded AS (
    SELECT
        a.provider, a.billing_account_key, a.billing_month, a.billing_source,
        first(b.billing_source ORDER BY b.source_rank, b.billing_source) AS _preferred
    FROM sources AS a
    JOIN sources AS b
      ON a.provider IS NOT DISTINCT FROM b.provider
     AND a.billing_month = b.billing_month
     AND a.billing_source <> b.billing_source
     AND (a.billing_account_key IS NULL OR b.billing_account_key IS NULL
          OR a.billing_account_key = b.billing_account_key)
     AND (b.source_rank < a.source_rank
          OR (b.source_rank = a.source_rank AND b.billing_source < a.billing_source))
    GROUP BY ALL
)
SELECT
    b.* EXCLUDE (_sp),
    s.billing_source IS NULL AS counted,
    s._preferred AS superseded_by
FROM base AS b
LEFT JOIN superseded AS s
  ON s.provider IS NOT DISTINCT FROM b.provider
 AND s.billing_account_key IS NOT DISTINCT FROM b.billing_account_key
 AND s.billing_month = b.billing_month
 AND s.billing_source = b.billing_source
