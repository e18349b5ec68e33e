"""Every word the figures and the policy brief print, in Chinese and English, as data.

``TEXT[lang][key]`` is a ``str.format`` template; both languages have the same keys (a
test checks it), so the code that builds figures and briefs is written once and never
branches on the language. Numbers are formatted by :mod:`guarantee_sim.reporting.numbers`,
the only place that decides how a number looks in the brief.
"""

from __future__ import annotations

import math

LANGS = ("zh", "en")

#: IPCC-style calibrated likelihood language: (lowest probability, key), highest first.
LIKELIHOOD = (
    (0.99, "virtually_certain"),
    (0.90, "very_likely"),
    (0.66, "likely"),
    (0.33, "about_as_likely_as_not"),
    (0.10, "unlikely"),
    (0.01, "very_unlikely"),
    (0.0, "exceptionally_unlikely"),
)
#: a target counts as "likely" in the brief's summary when its whole interval is from this
#: probability on, "not likely" when its whole interval is below it, "undecided" otherwise
LIKELY_FROM = 0.66

TEXT: dict[str, dict[str, str]] = {
    "en": {
        # ---------------------------------------------------------------- units, words
        "money_small": "CNY {value} m",
        "money_large": "CNY {value} bn",
        "money_yuan": "CNY {value}",
        "unit_small": "CNY m",
        "unit_large": "CNY bn",
        "unit_yuan": "CNY",
        "unit_ratio": "ratio",
        "unit_share": "share",
        "none": "—",
        "and": ", ",
        # ---------------------------------------------------------------- likelihood
        "virtually_certain": "virtually certain",
        "very_likely": "very likely",
        "likely": "likely",
        "about_as_likely_as_not": "about as likely as not",
        "unlikely": "unlikely",
        "very_unlikely": "very unlikely",
        "exceptionally_unlikely": "exceptionally unlikely",
        # ---------------------------------------------------------------- figures
        "fig_paths_band": "{low:.0%}–{high:.0%} of paths",
        "fig_median": "median",
        "fig_year": "year",
        "fig_fan_title": "{variable}{what}",
        "fig_loss_title": "Loss over the run by party: mean and 99% tail",
        "fig_loss_ylabel": "loss over the run ({unit})",
        "fig_loss_mean": "mean",
        "fig_loss_tail": "99% tail",
        "fig_exceed_title": "Exceedance: P(loss over the run > x), by party",
        "fig_exceed_xlabel": "loss over the run, x ({unit})",
        "fig_exceed_ylabel": "P(loss > x)",
        "fig_one_in_100": "1 in 100",
        "fig_target_title": "Probability of reaching each target",
        "fig_target_xlabel": "P(target reached), 95% CI from the paths",
        "fig_capital_title": "Guarantor capital and pool balance",
        "fig_capital_ylabel": "year-end net assets / balance ({unit})",
        "fig_insolvent": "{party}: P(insolvent) {p}",
        "fig_depleted": "{party}: P(pool depleted) {p}",
        "fig_compare_title": "Designs compared",
        "fig_compare_loss": "Mean loss over the run ({unit})",
        "fig_compare_targets": "P(target reached)",
        "fig_compare_fiscal": "Fiscal cost over the run ({unit}), 95% CI",
        "fig_compare_risk": "Risks",
        "fig_per_100m": "{value} per 100 m lent",
        "fig_per_additional": "{value} per add. borrower",
        "bar_pool_depleted": "{party}\nP(pool depleted)",
        "bar_pool_breaker": "{party}\nP(breaker tripped)",
        "risk_insolvent": "{party}\nP(insolvent)",
        "risk_comp_over_cap": "{party}\nP(comp. rate > cap)",
        "risk_leverage_over_cap": "{party}\nP(leverage > cap)",
        # ---------------------------------------------------------------- variables
        "var_capital": "Year-end net assets or balance",
        "var_credit_loss": "Credit loss of the year's defaults",
        "var_loss": "Net loss recognised",
        "var_loans_amount": "New lending",
        "var_loans_count": "New loans",
        "var_borrowers": "New borrowers",
        "var_outstanding_amount": "Year-end loan balance",
        "var_fiscal_cost": "Fiscal cost",
        "var_public_loss": "Public loss",
        "var_leverage": "Leverage",
        "var_compensation_rate": "Compensation rate",
        "var_unmet_demand_amount": "Unmet demand",
        "var_defaults_count": "Defaults",
        # ---------------------------------------------------------------- brief
        "title_single": "Policy brief: {label}",
        "title_compare": "Policy brief: {label}",
        "kind_bank": "bank",
        "kind_guarantor": "guarantor",
        "kind_reguarantor": "re-guarantor",
        "kind_pool": "pool",
        "kind_unabsorbed": "unabsorbed",
        "source_memory": "a results Dataset",
        "generated_undated": (
            "Generated from {source} ({paths} Monte Carlo paths per design, "
            "seed {seed}, guarantee_sim {version})."
        ),
        "generated": (
            "Generated from {source} ({paths} Monte Carlo paths per design, seed "
            "{seed}, guarantee_sim {version}, results created {created})."
        ),
        "h_question": "The question",
        "question_single": (
            "With this design — {label} — how likely is each of the plan's "
            "targets, what do the bank, the guarantors, the re-guarantors and "
            "the government lose in the mean and in the tail, when does the "
            "risk pool run short, and what does it cost the budget?"
        ),
        "h_designs": "Designs compared",
        "designs_single": "One design is simulated: **{name}** ({label}).",
        "designs_compare": (
            "{n} designs are compared on the same random numbers (common "
            "random numbers), so differences between them are the policy's "
            "effect rather than sampling noise. Base scenario: **{base}**."
        ),
        "designs_counterfactual": (
            "**{name}** is the counterfactual: additional borrowers "
            "and additional lending are measured against it."
        ),
        "col_design": "design",
        "col_changes": "changes to the base scenario",
        "no_changes": "(base scenario)",
        "col_scheme": "loss-sharing scheme",
        "col_coverage": "coverage (bank passes on)",
        "col_split": "shares of the whole loss",
        "col_segments": "segments",
        "h_uncertainty": "What the uncertainty covers",
        "uncertainty": (
            "Every range in this brief comes from the {paths} Monte Carlo paths "
            "per design. What varies from path to path: {varies}. '95% CI' is the "
            "confidence interval of a mean or a probability given that finite number of "
            "paths; '90% of paths' is the spread of outcomes from one path to another. "
            "The ranges cover parameter uncertainty only for what is drawn.{not_covered} "
            "The policy levers are the design itself, held at their values."
        ),
        "not_covered": (
            " They do **not** cover {fixed}, fixed at the scenario's values, which would "
            "widen them if they were uncertain."
        ),
        "varies_cycle": "credit cycles (the yearly systematic factor)",
        "varies_defaults": "which loans default",
        "varies_demand": "new lending (it follows the credit cycle)",
        "varies_drawn": "{n} parameters drawn per path: {keys}",
        "varies_replica": "{n} decision parameters drawn per book replica: {keys}",
        "fixed_credit": "default rates, loss rates and correlations",
        "param_pd": "PD levels",
        "param_lgd": "loss rates (LGD)",
        "param_correlation": "asset correlations",
        "param_recovery": "recovery lags",
        "param_noise": "the lenders' score noise",
        "param_mandate": "the guarantor's mandate",
        "param_other": "other parameters",
        "fixed_demand": "the level of demand",
        "uncertainty_clusters": (
            "Paths that lend from the same book replica are not independent (path p "
            "uses replica p mod {replicas}), so every 95% CI treats the {replicas} "
            "replicas as clusters: means use a cluster-robust (CR1) standard error "
            "with Student's t on {df} degrees of freedom, probabilities a Wilson "
            "interval on the effective number of paths, VaR and ES a bootstrap that "
            "resamples whole replicas (in the CSV tables), and differences between "
            "designs are paired path by path (the designs share their random "
            "numbers). With fewer than {minimum} replicas these intervals are "
            "**approximate**, and are labelled so."
        ),
        "uncertainty_one_book": (
            "All paths lend from one loan book, so they are independent given that "
            "book and every 95% CI is the ordinary one over {paths} paths (Student's t "
            "for means, Wilson for probabilities, paired path by path for "
            "differences between designs)."
        ),
        "ci": "95% CI",
        "ci_approx": "approximate 95% CI",
        "approx_suffix": " (approximate)",
        "h_key": "Key numbers",
        "key_fiscal": (
            "**{design}**: the budget spends {mean} over the run ({ci} {low} to "
            "{high}); public parties lose {public} (90% of paths between "
            "{public_p05} and {public_p95}); new lending is {lending}."
        ),
        "key_loss": (
            "**{design}** — {party}: mean loss over the run {mean} ({ci} {low} to "
            "{high}); in a 1-in-100 run {var99} or more (VaR 99%), and {es99} on "
            "average in the worst 1% of runs (ES 99%)."
        ),
        "key_loss_no_tail": (
            "**{design}** — {party}: mean loss over the run {mean} ({ci} {low} to "
            "{high}); this run has too few paths for its tail (VaR, ES)."
        ),
        "loss_table_caption": "Loss over the run by party",
        "col_party": "party",
        "col_mean": "mean",
        "col_mean_ci": "95% CI of the mean",
        "col_var99": "VaR 99%",
        "col_var999": "VaR 99.9%",
        "col_es99": "ES 99%",
        "col_tail": "its loss on the worst 1% of paths by total loss",
        "loss_table_note": (
            "ES 99% is the party's own mean loss on its own worst 1% of paths; the last "
            "column is its mean loss on the 1% of paths where the loss of all parties together "
            "is largest (these add up across parties to the total's ES 99%), so it shows who "
            "carries a system-wide bad outcome. — : fewer than {minimum} paths beyond the "
            "quantile ({paths} paths: VaR 99% and ES 99% need {need_99:,}, VaR 99.9% "
            "{need_999:,}), so no figure is shown."
        ),
        "preliminary": (
            "**Preliminary.** This run has {paths:,} paths{replicas}; below {min_paths:,} "
            "paths{min_replicas} its figures can move materially in a larger run. Use it to "
            "check a design, not to decide on one."
        ),
        "preliminary_replicas": " and {replicas} book replicas",
        "preliminary_min_replicas": " or {minimum} book replicas",
        "fig_caption_loss": (
            "Loss by party: the mean over the paths, and the mean on the 1% "
            "of paths with the largest total loss (the 99% tail)."
        ),
        "fig_caption_exceed": (
            "Probability that a party's loss over the run exceeds x, read from the paths."
        ),
        "fig_caption_fan": "Credit loss by year: median and bands across paths.",
        "fig_caption_fan_public": (
            "Losses of public parties by year, per design: median and "
            "the 5%–95% range across paths."
        ),
        "h_targets": "Which targets are likely",
        "targets_likely": "Likely ({p}% chance or more): {targets}.",
        "targets_not_likely": "Not likely: {targets}.",
        "targets_undecided": (
            " Cannot be told apart from {p}% at this run's precision (the interval spans it; "
            "more paths or book replicas would tell): {targets}."
        ),
        "likelihood_span": "{low} to {high}",
        "targets_none": "none",
        "targets_summary": "{likely} {not_likely}{undecided}",
        "design_prefix": "**{design}**: {text}",
        "target_line": (
            "**{design}** — {target}: P(reached) = {p} ({ci} {low} to {high}), "
            "{likelihood}; mean attainment {attainment} of the target {value}."
        ),
        "col_target": "target",
        "col_target_value": "target value",
        "col_attainment": "mean attainment",
        "col_attainment_range": "attainment, 90% of paths",
        "col_probability": "P(reached)",
        "col_probability_ci": "95% CI",
        "col_likelihood": "likelihood",
        "spread_intro": (
            "What drives the spread of each target's attainment across paths: shares of its "
            "variance explained by the credit cycle (the years' systematic factors), the "
            "uncertain parameters and the book replica (a Shapley decomposition of a "
            "regression's R²); the rest is default and renewal randomness."
        ),
        "spread_line": (
            "**{design}** — {target}: credit cycle {cycle}, parameters {parameters}, "
            "book replica {replica}, defaults {defaults}."
        ),
        "spread_constant": "**{design}** — {target}: the same on every path, no spread.",
        "spread_unavailable": (
            "**{design}** — {target}: not decomposed (too few paths, attainment not finite, "
            "or results written before the year factors were recorded)."
        ),
        "fig_caption_targets": "Probability of reaching each target, with its 95% CI.",
        "h_costs": "What it costs the budget",
        "cost_line": (
            "**{design}**: {per_borrower} of fiscal cost per first-time borrower "
            "served, {per_lending} per 100 m CNY of new lending."
        ),
        "cost_line_no_first_time": (
            "**{design}**: {per_lending} of fiscal cost per 100 m "
            "CNY of new lending (the scenario has no first-time "
            "borrower segment)."
        ),
        "additional_line": (
            "**{design}**: {additional} additional first-time borrowers "
            "over the run compared with {counterfactual} ({ci} {low} to "
            "{high}), {lending} of additional lending; the extra fiscal cost "
            "is {per_additional} per additional first-time borrower and "
            "{per_100m} per 100 m CNY of additional lending."
        ),
        "additional_none": (
            "**{design}**: no additional first-time borrowers compared with "
            "{counterfactual}, so a cost per additional borrower is not "
            "defined."
        ),
        "key_fiscal_fixed": (
            "**{design}**: the budget spends {mean} over the run, the same on "
            "every path; public parties lose {public} ({ci} {public_low} to "
            "{public_high}; 90% of paths between {public_p05} and "
            "{public_p95}); new lending is {lending}."
        ),
        "no_counterfactual_single": (
            "A single run has no counterfactual (the same system "
            "without the scheme), so additional borrowers and the "
            "cost per additional borrower are not estimated: compare "
            "designs with a `counterfactual` variant for them."
        ),
        "col_risk_probability": "probability",
        "no_counterfactual": (
            "The comparison has no counterfactual design (one without the "
            "scheme), so additional borrowers and the cost per additional "
            "borrower are not estimated."
        ),
        "col_fiscal": "fiscal cost",
        "col_public_loss": "public loss",
        "col_lending": "new lending",
        "col_per_borrower": "per first-time borrower (CNY)",
        "col_per_100m": "per 100 m CNY lent (CNY)",
        "col_additional": "additional first-time borrowers",
        "col_per_additional": "per additional first-time borrower (CNY)",
        "h_risks": "Risks",
        "risk_pool_depleted": (
            "**{design}** — {party}: depleted (its balance could not pay a share it was "
            "asked for) on {p} of paths ({ci} {low} to {high}){when}."
        ),
        "risk_pool_breaker": (
            "**{design}** — {party}: its NPL circuit breaker tripped (it took no share "
            "while tripped) on {p} of paths ({ci} {low} to {high}){when}."
        ),
        "risk_pool_when": ", first in {year} (median over those paths)",
        "risk_insolvency": (
            "**{design}** — {party}: net assets fell to zero or below "
            "on {p} of paths ({ci} {low} to {high}); its lowest year-end net "
            "assets average {capital_min}."
        ),
        "risk_leverage": (
            "**{design}** — {party}: peak year-end leverage {peak} on "
            "average, {peak99} in the worst 1% of paths, against a cap of "
            "{cap}; above the cap on {p} of paths."
        ),
        "risk_compensation": (
            "**{design}** — {party}: peak yearly compensation rate {peak} "
            "on average, {peak99} in the worst 1% of paths, against a cap of "
            "{cap}; above the cap on {p} of paths."
        ),
        "risk_compensation_nocap": (
            "**{design}** — {party}: peak yearly compensation rate "
            "{peak} on average, {peak99} in the worst 1% of paths "
            "(no cap)."
        ),
        "risk_unmet": (
            "**{design}**: lending refused for lack of guarantee or pool capacity "
            "averages {unmet} over the run."
        ),
        "col_risk": "risk",
        "col_cap": "cap",
        "col_peak": "peak, mean",
        "col_peak99": "peak, worst 1%",
        "col_first_year": "first year (median)",
        "risk_name_pool_depleted": "pool depleted",
        "risk_name_pool_breaker": "pool circuit breaker tripped",
        "risk_name_insolvency": "guarantor insolvent",
        "risk_name_leverage_over_cap": "leverage above cap",
        "risk_name_compensation_over_cap": "compensation rate above cap",
        "fig_caption_capital": (
            "Guarantor net assets and pool balance by year: median, bands "
            "across paths and a few single paths."
        ),
        "fig_caption_compare": "The designs side by side.",
        # ---------------------------------------------------------------- public cost
        "h_public_cost": "Public cost and break-even fees",
        "public_cost_explain": (
            "**Public cost** is what the public sector as a whole pays private parties, net: "
            "payouts to banks, subsidies and injections into private guarantors, minus the "
            "fees, re-guarantee fees and recoveries it receives. It counts the losses of "
            "government-owned guarantors and re-guarantors, cancels transfers between public "
            "parties, and leaves operating costs out (as the US Federal Credit Reform Act "
            "does), shown separately."
        ),
        "fiscal_cost_explain": (
            "**Fiscal cost** is the cash the budget pays out: pool contributions, interest "
            "and fee subsidies, capital injections. It misses the losses a government-owned "
            "guarantor pays from its own capital, and counts a transfer to a public "
            "guarantor as a cost although the money stays in the public sector."
        ),
        "discount_explain": (
            "Present values (PV) discount each year's flows at {rate} a year "
            "(policy.discount_rate, about the 10-year government bond yield) to the start of "
            "{year}, as if they moved in the middle of their year. The subsidy rate is the "
            "PV of public cost per 100 CNY of PV of guaranteed lending: new loans, renewals "
            "included, in the segments whose scheme passes part of the loss on (to a "
            "guarantor, re-guarantor or pool), discounted the same way."
        ),
        "public_cost_line": (
            "**{design}**: public cost {public} in present value (95% CI {low} to {high}) "
            "against a fiscal cost of {fiscal}; public operating costs {operating} besides. "
        ),
        "subsidy_line": (
            "Subsidy rate: CNY {subsidy} per CNY 100 guaranteed (95% CI {subsidy_low} to "
            "{subsidy_high})."
        ),
        "subsidy_none": "No lending is guaranteed, so there is no subsidy rate.",
        "zero_subsidy_line": (
            "**{design}**: for the expected public cost to be zero the public guarantors "
            "({parties}) would charge {fee} a year (95% CI {low} to {high}); they charge "
            "{actual}. Approvals, demand and subsidies are held as simulated (how demand "
            "answers the fee is a later question)."
        ),
        "zero_none_no_public": "**{design}**: no public guarantor, so no zero-subsidy fee.",
        "zero_none_no_fee_base": (
            "**{design}**: the public guarantors guarantee nothing, so no zero-subsidy fee."
        ),
        "break_even_line": (
            "**{design}** — {party}: charges {charged}; the fee that pays for its simulated "
            "book (payouts net of recoveries, operating cost and re-guarantee fees, less fee "
            "subsidies) is {fee} in expectation (95% CI {low} to {high}), between {p05} and "
            "{p95} on 90% of paths."
        ),
        "exhaustion_line": (
            "**{design}** — {party}: first year its net assets reach zero: {by_year}; never "
            "on {never} of paths."
        ),
        "cap_line": (
            "**{design}** — {party}: first year its leverage cap rations new guarantees: "
            "{by_year}; never on {never} of paths."
        ),
        "exhaustion_never": (
            "**{design}** — {party}: its net assets stay above zero on every path."
        ),
        "cap_never": "**{design}** — {party}: its leverage cap never rations new guarantees.",
        "by_year_item": "{year} on {p} of paths",
        "by_year_none": "in no year",
        "cost_missing": (
            "These results lack {missing} (written by an older guarantee_sim?); what needs "
            "them is left out. Run the scenario again for the whole section."
        ),
        "col_public_cost_pv": "public cost, PV",
        "col_fiscal_cost_pv": "fiscal cost, PV",
        "col_subsidy_rate": "subsidy rate (CNY per 100 guaranteed)",
        "col_zero_fee": "zero-subsidy fee",
        "col_fee_charged": "fee charged",
        "col_break_even": "break-even fee",
        "col_break_even_range": "break-even, 90% of paths",
        "col_never": "never",
        "col_exhausted_median": "net assets reach zero, median year",
        "col_cap_median": "cap binds, median year",
        "never": "never",
        # ---------------------------------------------------------------- assumptions
        "h_assumptions": "Assumptions and sources",
        "assume_settings": (
            "Horizon {first}–{last} ({origination} years of new lending, then "
            "run-off); {granularity} granularity; lending from {lending_source}; "
            "{replicas} book replica(s). Money in CNY, rates per year."
        ),
        "sources": "Sources cited by the scenario:",
        "no_sources": "The scenario cites no sources.",
        "value_sources": "Where the scenario's numbers come from, key by key, as its file "
        "says (PARAM: a row of the parameter table; ASSUMPTION: the modeller's assumption "
        "and its reason; DESIGN: the design document; 000-004: a seed policy document):",
        "col_key": "setting (key in the scenario file)",
        "col_source": "source or assumption (quoted)",
        "description": "Scenario description ({name}):",
        "granularity_loan": "loan",
        "granularity_cohort": "cohort",
        "lending_volumes": "volumes",
        "lending_processes": "processes",
        "description_foreign": (
            "The scenario's description ({name}) is in Chinese only; see the Chinese brief."
        ),
        "question_compare": (
            "How do these designs ({label}) differ in the plan's targets, in what the bank, "
            "the guarantors and the government lose, and in what they cost the budget?"
        ),
        # ---------------------------------------------------------------- levers
        "lever_fee_rate": "{name} fee rate {value}",
        "lever_coverage": "{name} coverage {value}",
        "lever_split": "{name} split {value}",
        "lever_annual_contribution": "{name} annual contribution {value}",
        "lever_capital": "{name} capital {value}",
        "lever_leverage_cap": "{name} leverage cap {value}",
        "lever_compensation_rate_cap": "{name} compensation-rate cap {value}",
        "lever_pd": "{name} PD {value}",
        "lever_lgd": "{name} LGD {value}",
        "lever_size": "{name} size {value}",
        "lever_count_per_year": "{name} loans a year {value}",
        "lever_from_year": "{value} from {year}",
        "lever_entry": "adds {name}",
        "lever_label": "{name} named '{label}'",
        "lever_other": "another setting changed",
        "lever_sep": "; ",
        "design_base": "base scenario",
        "design_numbered": "{name} ({n})",
        "whole_loss": "shares of the whole loss",
        # ---------------------------------------------------------------- differences
        "points": "{value} pp",
        "h_differences": "Differences from the baseline",
        "differences_intro": (
            "Each design minus the baseline (**{base}**), path by path: the designs share their "
            "random numbers, so a path's difference is the policy's effect on that path, and "
            "the 95% CI of the mean difference is paired (far narrower than the two designs' "
            "own intervals). A difference whose interval excludes zero has a sign this run "
            "can tell; probabilities differ in percentage points (pp)."
        ),
        "col_measure": "measure",
        "col_baseline_value": "baseline",
        "col_design_value": "this design",
        "col_difference": "difference (design - baseline)",
        "col_difference_ci": "paired 95% CI",
        "col_sign_known": "sign known",
        "yes": "yes",
        "no": "no",
        "identical": "identical on every path",
        "measure_public_cost_pv": "public cost (present value)",
        "measure_fiscal_cost": "fiscal cost over the run",
        "measure_public_loss": "public loss over the run",
        "measure_target_probability": "P({target} reached)",
        # ---------------------------------------------------------------- findings
        "h_findings": "Findings",
        "findings_rule": (
            "How these findings were chosen: the public cost always; then every target and "
            "every risk that happens on at least {risk} of the paths (a cap exceeded: {cap}), "
            "ranked by the probability of the risk or by how far the target's probability is "
            "from 50%, the top ones up to {n} findings in all, with at least two places each "
            "for targets and for risks when there are that many."
        ),
        "finding_cost": "Public cost over the run (present value): {values}.",
        "finding_cost_part": "{mean} ({ci} {low} to {high})",
        "finding_target": "{target}: reached with probability {values}.",
        "finding_target_part": "{p} ({ci} {low} to {high}; {likelihood})",
        "finding_risk": "{party} — {risk}{cap}: probability {values}.",
        "finding_risk_part": "{p} ({ci} {low} to {high})",
        "finding_cap": " (cap {cap})",
        "finding_design_part": "{design}: {text}",
        "finding_sep": "; ",
        "finding_all_designs": "{text} in every design",
        "drivers_intro": "What drives them (shares of the spread of attainment over the paths):",
        "driver_line": "{target}: mostly {source} ({share}).",
        "driver_parameter": (
            " Of the drawn parameters, {parameter} moves with it most (rank correlation {rho})."
        ),
        "source_credit_cycle": "the credit cycle",
        "source_parameters": "the uncertain parameters",
        "source_book_replica": "the book replica",
        "source_defaults": "which loans default",
        "h_tables": "Tables",
        "tables_note": "The tables behind this brief are in the tables/ folder as CSV: {files}.",
    },
    "zh": {
        "money_small": "{value} 万元",
        "money_large": "{value} 亿元",
        "money_yuan": "{value} 元",
        "unit_small": "万元",
        "unit_large": "亿元",
        "unit_yuan": "元",
        "unit_ratio": "倍",
        "unit_share": "比例",
        "none": "—",
        "and": "、",
        "virtually_certain": "几乎确定",
        "very_likely": "很可能",
        "likely": "可能",
        "about_as_likely_as_not": "或许可能（约一半）",
        "unlikely": "不太可能",
        "very_unlikely": "很不可能",
        "exceptionally_unlikely": "极不可能",
        "fig_paths_band": "{low:.0%}–{high:.0%} 的路径",
        "fig_median": "中位数",
        "fig_year": "年份",
        "fig_fan_title": "{variable}{what}",
        "fig_loss_title": "各方整个模拟期损失：均值与 99% 尾部",
        "fig_loss_ylabel": "整个模拟期损失（{unit}）",
        "fig_loss_mean": "均值",
        "fig_loss_tail": "99% 尾部",
        "fig_exceed_title": "超越概率：各方整个模拟期损失 > x 的概率",
        "fig_exceed_xlabel": "整个模拟期损失 x（{unit}）",
        "fig_exceed_ylabel": "P(损失 > x)",
        "fig_one_in_100": "百分之一",
        "fig_target_title": "各项目标的达成概率",
        "fig_target_xlabel": "目标达成概率（95% 置信区间）",
        "fig_capital_title": "担保机构净资产与资金池余额",
        "fig_capital_ylabel": "年末净资产／余额（{unit}）",
        "fig_insolvent": "{party}：资不抵债概率 {p}",
        "fig_depleted": "{party}：资金池耗尽概率 {p}",
        "fig_compare_title": "方案比较",
        "fig_compare_loss": "整个模拟期平均损失（{unit}）",
        "fig_compare_targets": "目标达成概率",
        "fig_compare_fiscal": "整个模拟期财政支出（{unit}，95% 置信区间）",
        "fig_compare_risk": "风险",
        "fig_per_100m": "每亿元贷款 {value}",
        "fig_per_additional": "每新增首贷户 {value}",
        "bar_pool_depleted": "{party}\n资金池耗尽概率",
        "bar_pool_breaker": "{party}\n熔断触发概率",
        "risk_insolvent": "{party}\n资不抵债概率",
        "risk_comp_over_cap": "{party}\n代偿率超上限概率",
        "risk_leverage_over_cap": "{party}\n放大倍数超上限概率",
        "var_capital": "年末净资产或余额",
        "var_credit_loss": "当年违约的信用损失",
        "var_loss": "确认的净损失",
        "var_loans_amount": "新增贷款金额",
        "var_loans_count": "新增贷款笔数",
        "var_borrowers": "新增借款人",
        "var_outstanding_amount": "年末贷款余额",
        "var_fiscal_cost": "财政支出",
        "var_public_loss": "公共部门损失",
        "var_leverage": "放大倍数",
        "var_compensation_rate": "代偿率",
        "var_unmet_demand_amount": "未满足的融资需求",
        "var_defaults_count": "违约笔数",
        "title_single": "政策简报：{label}",
        "title_compare": "政策简报：{label}",
        "kind_bank": "银行",
        "kind_guarantor": "担保机构",
        "kind_reguarantor": "再担保机构",
        "kind_pool": "资金池",
        "kind_unabsorbed": "未吸收",
        "source_memory": "结果数据集",
        "generated_undated": (
            "根据 {source} 生成（每个方案 {paths} 条蒙特卡洛路径，随机种子 {seed}，"
            "guarantee_sim {version}）。"
        ),
        "generated": (
            "根据 {source} 生成（每个方案 {paths} 条蒙特卡洛路径，随机种子 {seed}，"
            "模拟程序版本 {version}，结果生成于 {created}）。"
        ),
        "h_question": "问题",
        "question_single": (
            "在该方案（{label}）下，规划的各项目标达成的可能性有多大？银行、担保机构、"
            "再担保机构和政府在平均情形和尾部情形下各损失多少？风险补偿资金池何时"
            "不足？财政需要付出多少？"
        ),
        "h_designs": "比较的方案",
        "designs_single": "模拟一个方案：**{label}**{name}。",
        "designs_compare": (
            "比较 {n} 个方案，各方案使用相同的随机数（共同随机数），因此方案之间的"
            "差异反映政策效果，而非抽样误差。基准情景：**{base}**。"
        ),
        "designs_counterfactual": "**{name}** 为反事实方案：新增借款人和新增贷款均相对于它计算。",
        "col_design": "方案",
        "col_changes": "相对基准情景的改动",
        "no_changes": "（基准情景）",
        "col_scheme": "分险模式",
        "col_coverage": "分险比例（银行转出部分）",
        "col_split": "占全部损失的份额",
        "col_segments": "适用业务",
        "h_uncertainty": "不确定性的含义",
        "uncertainty": (
            "本简报中的所有区间都来自每个方案的 {paths} 条蒙特卡洛路径。"
            "路径之间变化的是：{varies}。"
            "“95% 置信区间”指在有限路径数下均值或概率的置信区间；“90% 的路径”指不同路径之间结果的"
            "分布范围。参数不确定性只涵盖抽样的参数。{not_covered}政策工具即方案本身，按设定值固定。"
        ),
        "not_covered": (
            "区间**不包括**{fixed}的不确定性，它们固定为情景设定值，若这些参数本身不确定，"
            "区间会更宽。"
        ),
        "varies_cycle": "信贷周期（逐年的系统性因子）",
        "varies_defaults": "哪些贷款违约",
        "varies_demand": "随信贷周期变化的新增贷款",
        "varies_drawn": "每条路径抽样的 {n} 个参数：{keys}",
        "varies_replica": "每个贷款簿重复样本抽样的 {n} 个决策参数：{keys}",
        "fixed_credit": "违约概率、违约损失率和相关性",
        "param_pd": "违约概率水平",
        "param_lgd": "违约损失率",
        "param_correlation": "资产相关性",
        "param_recovery": "追偿时滞",
        "param_noise": "放贷机构的评分噪声",
        "param_mandate": "担保机构的政策性容忍损失",
        "param_other": "其他参数",
        "fixed_demand": "需求水平",
        "uncertainty_clusters": (
            "使用同一账簿副本的路径并不独立（各路径按编号轮流使用 {replicas} 个副本），因此"
            "所有 95% 置信区间都把 {replicas} 个副本当作聚类：均值采用聚类稳健"
            "标准误（含小样本校正）和自由度为 {df} 的 t 分布，概率采用基于有效路径数的威尔逊区间，"
            "风险价值与预期短缺采用按整个副本重抽样的自助法（见 CSV 表），方案之间的"
            "差异按路径配对计算（各方案使用相同的随机数）。副本少于 {minimum} 个时，"
            "这些区间是**近似**的，并如此标注。"
        ),
        "uncertainty_one_book": (
            "所有路径使用同一个贷款账簿，因此在该账簿给定的条件下路径相互独立，95% 置信"
            "区间按 {paths} 条独立路径计算（均值用 t 分布，概率用威尔逊区间，方案之间"
            "的差异按路径配对）。"
        ),
        "ci": "95% 置信区间",
        "ci_approx": "近似 95% 置信区间",
        "approx_suffix": "（近似）",
        "h_key": "关键数字",
        "key_fiscal": (
            "**{design}**：整个模拟期财政支出 {mean}（{ci} {low} 至 {high}）；"
            "公共部门损失 {public}（90% 的路径介于 {public_p05} 与 {public_p95}）；"
            "新增贷款 {lending}。"
        ),
        "key_loss": (
            "**{design}** — {party}：整个模拟期平均损失 {mean}（{ci} "
            "{low} 至 {high}）；在最差的 1% 模拟路径中（指整个模拟期，而非某一年），"
            "损失不低于 {var99}（99% 风险价值），这些路径上的平均损失为 {es99}（99% 预期短缺）。"
        ),
        "key_loss_no_tail": (
            "**{design}** — {party}：整个模拟期平均损失 {mean}（{ci} {low} 至 {high}）；"
            "本次运行路径太少，不足以给出尾部风险（风险价值、预期短缺）。"
        ),
        "loss_table_caption": "各方整个模拟期损失",
        "col_party": "参与方",
        "col_mean": "均值",
        "col_mean_ci": "均值 95% 置信区间",
        "col_var99": "99% 风险价值",
        "col_var999": "99.9% 风险价值",
        "col_es99": "99% 预期短缺",
        "col_tail": "总损失最大的 1% 路径上的本方损失",
        "loss_table_note": (
            "99% 预期短缺是该方自身最差 1% 路径上的平均损失；最后一列是全体参与方合计损失最大的"
            " 1% 路径上该方的平均损失（各方相加等于合计损失的 99% 预期短缺），表示系统性坏情形"
            "由谁承担。— ：分位数之外的路径少于 {minimum} 条（本次 {paths} 条路径：99% 风险价值和"
            "预期短缺需要 {need_99:,} 条，99.9% 风险价值需要 {need_999:,} 条），因此不列数值。"
        ),
        "preliminary": (
            "**初步结果。** 本次运行只有 {paths:,} 条路径{replicas}；少于 {min_paths:,} 条路径"
            "{min_replicas}时，结果在更大规模的运行中可能明显变化。可用于检查方案，不宜据此决策。"
        ),
        "preliminary_replicas": "、{replicas} 个贷款簿重复样本",
        "preliminary_min_replicas": "或 {minimum} 个贷款簿重复样本",
        "fig_caption_loss": (
            "各方损失：各路径的均值，以及总损失最大的 1% 路径上的均值（99% 尾部）。"
        ),
        "fig_caption_exceed": "各方整个模拟期损失超过 x 的概率，由各路径得出。",
        "fig_caption_fan": "逐年信用损失：各路径的中位数与分位区间。",
        "fig_caption_fan_public": "各方案逐年公共部门损失：各路径的中位数及 5%–95% 区间。",
        "h_targets": "哪些目标可能达成",
        "targets_likely": "可能达成（概率不低于 {p}%）：{targets}。",
        "targets_not_likely": "不太可能达成：{targets}。",
        "targets_undecided": (
            "以本次运行的精度尚无法判断是否达到 {p}%（区间跨越该值；增加路径或贷款簿重复样本"
            "可以判断）：{targets}。"
        ),
        "likelihood_span": "{low}至{high}",
        "targets_none": "无",
        "targets_summary": "{likely}{not_likely}{undecided}",
        "design_prefix": "**{design}**：{text}",
        "target_line": (
            "**{design}** — {target}：达成概率 {p}（{ci} {low} 至 {high}），"
            "{likelihood}；平均完成目标值 {value} 的 {attainment}。"
        ),
        "col_target": "目标",
        "col_target_value": "目标值",
        "col_attainment": "平均完成度",
        "col_attainment_range": "完成度（90% 的路径）",
        "col_probability": "达成概率",
        "col_probability_ci": "95% 置信区间",
        "col_likelihood": "可能性",
        "spread_intro": (
            "各目标完成度在路径之间的差异来自何处：信贷周期（各年的系统性因子）、参数不确定性"
            "与贷款簿重复样本各自解释的方差占比（回归 R² 的沙普利值分解），其余归于违约与续贷"
            "的随机性。"
        ),
        "spread_line": (
            "**{design}** — {target}：信贷周期 {cycle}，参数不确定性 {parameters}，"
            "贷款簿重复样本 {replica}，违约随机性 {defaults}。"
        ),
        "spread_constant": "**{design}** — {target}：各路径完成度相同，没有差异可分解。",
        "spread_unavailable": (
            "**{design}** — {target}：未分解（路径过少、完成度含非有限值，"
            "或结果文件早于年度因子的记录）。"
        ),
        "fig_caption_targets": "各项目标的达成概率及其 95% 置信区间。",
        "h_costs": "财政成本",
        "cost_line": (
            "**{design}**：每服务一户首贷户的财政成本为 {per_borrower}，每亿元新增贷款的"
            "财政成本为 {per_lending}。"
        ),
        "cost_line_no_first_time": (
            "**{design}**：每亿元新增贷款的财政成本为 {per_lending}（该情景没有首贷户业务）。"
        ),
        "additional_line": (
            "**{design}**：相对于 {counterfactual}，整个模拟期新增首贷户 "
            "{additional} 户（{ci} {low} 至 {high}），新增贷款 {lending}；"
            "额外财政成本为每新增首贷户 {per_additional}，每亿元新增贷款 "
            "{per_100m}。"
        ),
        "additional_none": (
            "**{design}**：相对于 {counterfactual} 没有新增首贷户，因此无法计算每新增首贷户的成本。"
        ),
        "key_fiscal_fixed": (
            "**{design}**：整个模拟期财政支出 {mean}，各路径相同；公共部门损失 "
            "{public}（{ci} {public_low} 至 {public_high}；90% 的路径介于 "
            "{public_p05} 与 {public_p95}）；新增贷款 {lending}。"
        ),
        "no_counterfactual_single": (
            "单次模拟没有反事实方案（不含该政策的同一体系），因此不估计新增"
            "借款人及每新增借款人的成本；如需估计，请比较含反事实方案的多个方案。"
        ),
        "col_risk_probability": "概率",
        "no_counterfactual": (
            "该比较没有反事实方案（不含该政策的方案），因此不估计新增借款人及其成本。"
        ),
        "col_fiscal": "财政支出",
        "col_public_loss": "公共部门损失",
        "col_lending": "新增贷款",
        "col_per_borrower": "每户首贷户（元）",
        "col_per_100m": "每亿元贷款（元）",
        "col_additional": "新增首贷户（户）",
        "col_per_additional": "每新增首贷户（元）",
        "h_risks": "风险",
        "risk_pool_depleted": (
            "**{design}** — {party}：在 {p} 的路径上资金耗尽，余额不足以承担应分担的损失"
            "（{ci} {low} 至 {high}）{when}。"
        ),
        "risk_pool_breaker": (
            "**{design}** — {party}：在 {p} 的路径上不良率触发熔断，熔断期间不再分担损失"
            "（{ci} {low} 至 {high}）{when}。"
        ),
        "risk_pool_when": "，这些路径上首次发生的年份中位数为 {year} 年",
        "risk_insolvency": (
            "**{design}** — {party}：在 {p} 的路径上净资产降至零或以下"
            "（{ci} {low} 至 {high}）；年末净资产最低值平均为 {capital_min}。"
        ),
        "risk_leverage": (
            "**{design}** — {party}：年末放大倍数峰值平均 {peak}，最差 1% "
            "路径为 {peak99}，上限 {cap}；在 {p} 的路径上超过上限。"
        ),
        "risk_compensation": (
            "**{design}** — {party}：年度代偿率峰值平均 {peak}，最差 1% 路径为 "
            "{peak99}，上限 {cap}；在 {p} 的路径上超过上限。"
        ),
        "risk_compensation_nocap": (
            "**{design}** — {party}：年度代偿率峰值平均 {peak}，最差 1% 路径为 {peak99}（无上限）。"
        ),
        "risk_unmet": (
            "**{design}**：因担保或资金池容量不足而未能发放的贷款，整个模拟期平均 {unmet}。"
        ),
        "col_risk": "风险",
        "col_cap": "上限",
        "col_peak": "峰值均值",
        "col_peak99": "峰值（最差 1%）",
        "col_first_year": "首次年份（中位数）",
        "risk_name_pool_depleted": "资金池耗尽",
        "risk_name_pool_breaker": "资金池熔断",
        "risk_name_insolvency": "担保机构资不抵债",
        "risk_name_leverage_over_cap": "放大倍数超上限",
        "risk_name_compensation_over_cap": "代偿率超上限",
        "fig_caption_capital": (
            "担保机构净资产与资金池余额逐年变化：中位数、分位区间与若干单条路径。"
        ),
        "fig_caption_compare": "各方案对比。",
        "h_public_cost": "公共成本与保本费率",
        "public_cost_explain": (
            "**公共成本**是整个公共部门向私人部门支付的净现金：向银行的代偿、补贴以及向民营"
            "担保机构的注资，减去收到的担保费、再担保费和追偿回收。它计入政府性担保机构和"
            "再担保机构的损失，公共部门内部的转移相互抵消；行政和运营成本不计入（与美国"
            "《联邦信贷改革法》的做法一致），另行列示。"
        ),
        "fiscal_cost_explain": (
            "**财政支出**是预算实际拨付的现金：风险补偿资金池出资、贴息和担保费补贴、资本金"
            "注入。它不包括政府性担保机构以自有资本承担的损失，却把注入政府性担保机构的资金"
            "计为成本，尽管这笔钱仍留在公共部门内部。"
        ),
        "discount_explain": (
            "现值按每年 {rate} 的贴现率（情景设定，约为 10 年期国债收益率）将各年"
            "现金流折现到 {year} 年初，并假定每年的现金流发生在年中。补贴率为公共成本现值与"
            "担保贷款现值之比（每百元担保贷款）；担保贷款指分险模式将部分损失转由担保机构、"
            "再担保机构或风险补偿资金池承担的业务中的新增贷款（含续贷），按同样方式折现。"
        ),
        "public_cost_line": (
            "**{design}**：公共成本现值 {public}（95% 置信区间 {low} 至 {high}），财政支出"
            "现值 {fiscal}；另有公共部门运营成本现值 {operating}。"
        ),
        "subsidy_line": (
            "补贴率为每百元担保贷款 {subsidy} 元（95% 置信区间 {subsidy_low} 至 {subsidy_high}）。"
        ),
        "subsidy_none": "没有担保贷款，因此没有补贴率。",
        "zero_subsidy_line": (
            "**{design}**：政府性担保机构（{parties}）的担保费率需达到每年 {fee}（95% 置信"
            "区间 {low} 至 {high}），公共成本的期望值才为零；目前费率为 {actual}。此处审批、"
            "需求和补贴均保持模拟结果不变（需求随费率变化的情形留待后续分析）。"
        ),
        "zero_none_no_public": "**{design}**：没有政府性担保机构，因此没有零补贴费率。",
        "zero_none_no_fee_base": "**{design}**：政府性担保机构没有担保业务，因此没有零补贴费率。",
        "break_even_line": (
            "**{design}** — {party}：实际费率 {charged}；覆盖其模拟业务（扣除追偿后的代偿、"
            "运营成本和再担保费，减去担保费补贴）所需的保本费率期望为 {fee}（95% 置信区间 "
            "{low} 至 {high}），90% 的路径介于 {p05} 与 {p95}。"
        ),
        "exhaustion_line": (
            "**{design}** — {party}：净资产首次降至零的年份：{by_year}；{never} 的路径上从未发生。"
        ),
        "cap_line": (
            "**{design}** — {party}：放大倍数上限首次限制新增担保的年份：{by_year}；"
            "{never} 的路径上从未发生。"
        ),
        "exhaustion_never": "**{design}** — {party}：在所有路径上净资产均保持为正。",
        "cap_never": "**{design}** — {party}：放大倍数上限在所有路径上均未限制新增担保。",
        "by_year_item": "{year} 年（{p} 的路径）",
        "by_year_none": "无",
        "cost_missing": (
            "这些结果缺少 {missing}（可能由旧版 guarantee_sim 生成），依赖它们的内容从略；"
            "请重新运行情景以得到本节全部内容。"
        ),
        "col_public_cost_pv": "公共成本现值",
        "col_fiscal_cost_pv": "财政支出现值",
        "col_subsidy_rate": "补贴率（每百元担保贷款，元）",
        "col_zero_fee": "零补贴费率",
        "col_fee_charged": "实际费率",
        "col_break_even": "保本费率",
        "col_break_even_range": "保本费率（90% 的路径）",
        "col_never": "从未发生",
        "col_exhausted_median": "净资产降至零，年份中位数",
        "col_cap_median": "上限约束，年份中位数",
        "never": "从未",
        "h_assumptions": "假设与来源",
        "assume_settings": (
            "模拟期 {first}—{last} 年（{origination} 年新增贷款，之后为存量回收期）；"
            "模拟粒度：{granularity}；贷款量来源：{lending_source}；贷款簿副本 "
            "{replicas} 个。金额单位为人民币元，利率为年率。"
        ),
        "sources": "情景引用的来源：",
        "no_sources": "情景未引用来源。",
        "value_sources": "情景各项数值的来源与假设（按情景文件中的设定键，原文引用；"
        "PARAM 为参数表中的一行，ASSUMPTION 为建模假设及其理由，DESIGN 为设计文档，"
        "000—004 为所依据的政策文件）：",
        "col_key": "设定（情景文件中的键）",
        "col_source": "来源或假设（原文）",
        "description": "情景说明（{name}）：",
        "granularity_loan": "逐笔贷款",
        "granularity_cohort": "按批次汇总",
        "lending_volumes": "情景设定的贷款量",
        "lending_processes": "机构行为模拟",
        "description_foreign": "情景说明（{name}）只有英文版本，见英文简报。",
        "question_compare": (
            "这些方案（{label}）在规划目标的达成、银行、担保机构和政府承担的损失以及财政成本上"
            "有何差别？"
        ),
        # ---------------------------------------------------------------- levers
        "lever_fee_rate": "{name}担保费率 {value}",
        "lever_coverage": "{name}分险比例 {value}",
        "lever_split": "{name}分担比例 {value}",
        "lever_annual_contribution": "{name}年度出资 {value}",
        "lever_capital": "{name}资本金 {value}",
        "lever_leverage_cap": "{name}放大倍数上限 {value}",
        "lever_compensation_rate_cap": "{name}代偿率上限 {value}",
        "lever_pd": "{name}违约概率 {value}",
        "lever_lgd": "{name}违约损失率 {value}",
        "lever_size": "{name}规模 {value}",
        "lever_count_per_year": "{name}每年贷款笔数 {value}",
        "lever_from_year": "{year} 年起 {value}",
        "lever_entry": "新增{name}",
        "lever_label": "{name}更名为“{label}”",
        "lever_other": "其他设定调整",
        "lever_sep": "，",
        "design_base": "基准方案",
        "design_numbered": "{name}（方案 {n}）",
        "whole_loss": "占全部损失的份额",
        # ---------------------------------------------------------------- differences
        "points": "{value} 个百分点",
        "h_differences": "与基准方案的差异",
        "differences_intro": (
            "差值为各方案减**{base}**，逐条路径计算：各方案使用相同的随机数，"
            "同一路径上的差值就是政策在该路径上的效果，均值差的 95% 置信区间按路径配对计算"
            "（远窄于两个方案各自的区间）。区间不含零的差异，其方向在本次运行的精度下可以确认；"
            "概率之差以百分点表示。"
        ),
        "col_measure": "指标",
        "col_baseline_value": "基准方案",
        "col_design_value": "本方案",
        "col_difference": "差值（本方案 − 基准方案）",
        "col_difference_ci": "配对 95% 置信区间",
        "col_sign_known": "方向可确认",
        "yes": "是",
        "no": "否",
        "identical": "各路径相同",
        "measure_public_cost_pv": "公共成本（现值）",
        "measure_fiscal_cost": "整个模拟期财政支出",
        "measure_public_loss": "整个模拟期公共部门损失",
        "measure_target_probability": "{target}目标达成概率",
        # ---------------------------------------------------------------- findings
        "h_findings": "主要发现",
        "findings_rule": (
            "这些发现按以下规则选出：公共成本总是列出；其余为各项目标，以及在至少 {risk} 的路径上"
            "发生的风险（超上限类风险为至少 {cap}），按风险的发生概率或目标达成概率与 50% 的距离"
            "排序，取排名靠前者，合计不超过 {n} 条；目标与风险在有候选时各至少占两条。"
        ),
        "finding_cost": "整个模拟期公共成本（现值）：{values}。",
        "finding_cost_part": "{mean}（{ci} {low}–{high}）",
        "finding_target": "{target}：目标达成概率 {values}。",
        "finding_target_part": "{p}（{ci} {low}–{high}，{likelihood}）",
        "finding_risk": "{party}：{risk}{cap}的概率 {values}。",
        "finding_risk_part": "{p}（{ci} {low}–{high}）",
        "finding_cap": "（上限 {cap}）",
        "finding_design_part": "{design}：{text}",
        "finding_sep": "；",
        "finding_all_designs": "各方案均为 {text}",
        "drivers_intro": "原因（各因素在路径间完成度差异中所占的方差份额）：",
        "driver_line": "{target}：主要来自{source}（{share}）。",
        "driver_parameter": "在抽样参数中，与之关联最强的是{parameter}（秩相关系数 {rho}）。",
        "source_credit_cycle": "信贷周期",
        "source_parameters": "参数不确定性",
        "source_book_replica": "贷款簿重复样本",
        "source_defaults": "违约随机性",
        "h_tables": "数据表",
        "tables_note": "本简报所依据的数据表以 CSV 格式保存在 tables/ 文件夹：{files}。",
    },
}


def check_lang(lang: str) -> str:
    """``lang`` if it is one of :data:`LANGS`, else a ValueError naming the choices."""
    if lang not in TEXT:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGS)}")
    return lang


def t(lang: str, key: str, **values) -> str:
    """The template ``key`` in ``lang``, filled with ``values``."""
    return TEXT[check_lang(lang)][key].format(**values)


def _bad(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def likelihood(p: float) -> str:
    """The calibrated-language key for probability ``p``."""
    for lowest, key in LIKELIHOOD:
        if p >= lowest:
            return key
    return LIKELIHOOD[-1][1]


def likelihood_words(p: float, low: float, high: float, lang: str) -> str:
    """The calibrated words for a probability estimated with the interval ``low``-``high``:
    one word when the whole interval falls in one band, else the span of the bands it
    covers ("likely to very likely"), so that no word claims more precision than the run
    has. Without an interval (NaN), the word of ``p``.

    >>> likelihood_words(0.8, 0.7, 0.85, "en"), likelihood_words(0.8, 0.6, 0.95, "en")
    ('likely', 'about as likely as not to very likely')
    """
    if _bad(low) or _bad(high):
        return TEXT[lang][likelihood(p)]
    words = [TEXT[lang][likelihood(float(low))], TEXT[lang][likelihood(float(high))]]
    if words[0] == words[1]:
        return words[0]
    return TEXT[lang]["likelihood_span"].format(low=words[0], high=words[1])
