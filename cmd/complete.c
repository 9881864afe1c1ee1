/* complete.c - shell completion: `hoist completion bash|zsh` prints a small
 * static script, and the script calls the hidden `hoist __complete WORD...`
 * for the candidates (kubectl's and crane's cobra design).
 *
 * Nothing here lists commands or options by hand.  `__complete` walks the
 * command table of cmd/main.c and, for the options and operands of one
 * command, runs the command itself with ctx->complete set: its
 * cmd_parse_options() (or a group's cmd_group_run()) hands the option spec
 * to complete_spec() (complete_group()) instead of parsing, and the command
 * returns before doing anything.  So a command added tomorrow completes the
 * day it lands.
 *
 * Output of `__complete`: one candidate per line, already filtered by the
 * word being completed; a line ":files" or ":dirs" asks the shell to add
 * its own file (directory) completion.  Candidates never start with ':'.
 * An operand's kind comes from its placeholder in the usage lines and an
 * option value's from its argh: <dir> completes directories; <file>,
 * <path>, <tar>, <context>, <src> files; <image>, <ref>, <base>,
 * <manifest>, <source> the reference names in the cache's index.json and
 * metadata index.
 */
#include "cmd/cmd.h"

#include "cache/layout.h"
#include "cmd/report.h"
#include "core/base/buf.h"
#include "core/base/err.h"
#include "core/base/strvec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct complete {
	char **words;		/* the words after "hoist", the last one being completed */
	int n;			/* >= 1 */
	int pos;		/* first word not yet consumed by a command name */
	unsigned want;		/* enum complete_kind bits collected */
	struct strvec out;	/* candidates */
};

enum complete_kind {
	COMPLETE_FILES = 1 << 0,
	COMPLETE_DIRS = 1 << 1,
	COMPLETE_REFS = 1 << 2,
};

static const char *complete_cur(const struct complete *c)
{
	return c->words[c->n - 1];
}

static void complete_add(struct complete *c, const char *cand)
{
	const char *cur = complete_cur(c);

	if (!strncmp(cand, cur, strlen(cur)) && strvec_find(&c->out, cand) < 0)
		strvec_push(&c->out, cand);
}

/* The kind of a placeholder such as "<image>", "[<path>]", "<ref>|<path>",
 * "<src>:<dst>...": the union over the names in angle brackets. */
static unsigned complete_kind_of(const char *ph)
{
	static const struct { const char *word; unsigned kind; } names[] = {
		{ "dir", COMPLETE_DIRS },
		{ "file", COMPLETE_FILES }, { "path", COMPLETE_FILES },
		{ "tar", COMPLETE_FILES }, { "context", COMPLETE_FILES },
		{ "containerfile", COMPLETE_FILES }, { "src", COMPLETE_FILES },
		{ "image", COMPLETE_REFS }, { "ref", COMPLETE_REFS },
		{ "base", COMPLETE_REFS }, { "manifest", COMPLETE_REFS },
		{ "source", COMPLETE_REFS },
	};
	const char *p = ph, *end;
	unsigned kind = 0;
	size_t i, len;

	while (p && (p = strchr(p, '<'))) {
		p++;
		if (!(end = strchr(p, '>')))
			break;
		len = (size_t)(end - p);
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].word) == len && !strncmp(p, names[i].word, len))
				kind |= names[i].kind;
		/* "<layer.tar>" */
		if (len > 4 && !strncmp(end - 4, ".tar", 4))
			kind |= COMPLETE_FILES;
		p = end + 1;
	}
	return kind;
}

/* The option of `opts` that `word` names ("--name", "--name=v", "-x",
 * "-abx"), or NULL.  *inline_arg is set when the value is in the word. */
static const struct opt *complete_find_opt(const struct opt *opts, const char *word,
					   int *inline_arg)
{
	const struct opt *o;
	size_t len;

	*inline_arg = 0;
	if (!opts || word[0] != '-' || !word[1])
		return NULL;
	if (word[1] == '-') {
		len = strcspn(word + 2, "=");
		for (o = opts; o->kind != OPT_KIND_END; o++)
			if (o->long_name && strlen(o->long_name) == len &&
			    !strncmp(o->long_name, word + 2, len)) {
				*inline_arg = word[2 + len] == '=';
				return o;
			}
		return NULL;
	}
	/* a cluster of short options: the one taking a value ends it */
	for (len = 1; word[len]; len++)
		for (o = opts; o->kind != OPT_KIND_END; o++)
			if (o->short_name == word[len]) {
				if (o->argh) {
					*inline_arg = word[len + 1] != 0;
					return o;
				}
				break;
			}
	return NULL;
}

/* The option named by `word` in the spec's own or global options. */
static const struct opt *complete_spec_opt(const struct opt_spec *spec, const char *word,
					   int *inline_arg)
{
	const struct opt *o = complete_find_opt(spec->opts, word, inline_arg);

	return o ? o : complete_find_opt(spec->globals, word, inline_arg);
}

/* Whether word i is the value of the option in word i-1 (i > pos). */
static const struct opt *complete_value_of(const struct complete *c, const struct opt_spec *spec,
					   int i)
{
	const struct opt *o;
	int inl;

	if (i <= c->pos)
		return NULL;
	o = complete_spec_opt(spec, c->words[i - 1], &inl);
	return o && o->argh && !inl ? o : NULL;
}

/* Index of the first operand word from c->pos on, before the current one,
 * or -1; *n_ops counts the operands before the current word. */
static int complete_operands(const struct complete *c, const struct opt_spec *spec, int *n_ops)
{
	int i, first = -1, dashdash = 0;

	*n_ops = 0;
	for (i = c->pos; i < c->n - 1; i++) {
		const char *w = c->words[i];

		if (!dashdash && complete_value_of(c, spec, i))
			continue;
		if (!dashdash && !strcmp(w, "--")) {
			dashdash = 1;
			continue;
		}
		if (!dashdash && w[0] == '-' && w[1])
			continue;
		if (first < 0)
			first = i;
		(*n_ops)++;
	}
	return first;
}

static void complete_opts(struct complete *c, const struct opt *opts)
{
	const struct opt *o;
	char name[128];

	for (o = opts; o && o->kind != OPT_KIND_END; o++) {
		if (o->long_name) {
			snprintf(name, sizeof(name), "--%s", o->long_name);
			complete_add(c, name);
		}
		if (o->short_name) {
			snprintf(name, sizeof(name), "-%c", o->short_name);
			complete_add(c, name);
		}
	}
}

/* Options of a spec, with the --help opt_parse() adds. */
static void complete_spec_opts(struct complete *c, const struct opt_spec *spec)
{
	int inl;

	complete_opts(c, spec->opts);
	complete_opts(c, spec->globals);
	if (!complete_find_opt(spec->opts, "--help", &inl))
		complete_add(c, "--help");
}

/* Adds the alternatives of a literal operand such as "bash|zsh". */
static void complete_literals(struct complete *c, const char *tok)
{
	char alt[128];
	size_t len;

	while (*tok) {
		len = strcspn(tok, "|");
		if (len && len < sizeof(alt) && tok[0] != '[' && tok[0] != '(') {
			memcpy(alt, tok, len);
			alt[len] = 0;
			complete_add(c, alt);
		}
		tok += len;
		tok += strspn(tok, "|");
	}
}

/* The kind of operand `k` (0-based) after "hoist CMD [SUB]" in one usage
 * line: placeholders in square brackets that start with '-' are options,
 * a "-x" or "--x" word takes the placeholder after it, "<x>..." repeats. */
static unsigned complete_usage_kind(struct complete *c, const char *usage, const char *name,
				    int k)
{
	const char *p = usage, *start;
	unsigned kind = 0, last_kind = 0;
	int depth, idx = 0, repeat = 0, skip_next = 0;
	char tok[256];
	size_t len;

	/* skip "hoist" and the command words */
	p += strspn(p, " ");
	p += strcspn(p, " ");	/* hoist */
	p += strspn(p, " ");
	if (!strncmp(p, name, strlen(name)))
		p += strlen(name);
	while (*p) {
		p += strspn(p, " ");
		if (!*p)
			break;
		start = p;
		depth = 0;
		while (*p && (depth > 0 || *p != ' ')) {
			if (*p == '[' || *p == '(')
				depth++;
			else if ((*p == ']' || *p == ')') && depth > 0)
				depth--;
			p++;
		}
		len = (size_t)(p - start);
		if (len >= sizeof(tok))
			len = sizeof(tok) - 1;
		memcpy(tok, start, len);
		tok[len] = 0;
		if (skip_next) {
			skip_next = 0;
			if (tok[0] == '<')
				continue;
		}
		if (!strcmp(tok, "[options]") || tok[0] == '|')
			continue;
		if (tok[0] == '-' || (tok[0] == '(' && tok[1] == '-') ||
		    (tok[0] == '[' && tok[1] == '-')) {
			skip_next = tok[0] == '-' && !strchr(tok, '<');
			continue;
		}
		if (!strchr(tok, '<')) {
			/* a literal such as "bash|zsh" */
			if (idx++ == k)
				complete_literals(c, tok);
			continue;
		}
		last_kind = complete_kind_of(tok);
		repeat = strstr(tok, "...") != NULL;
		if (idx == k)
			kind = last_kind;
		if (repeat && k > idx) {
			/* "<image>... [<path>]": a later operand may be either */
			kind |= last_kind;
		}
		idx++;
	}
	if (k >= idx && repeat)
		kind |= last_kind;
	return kind;
}

/* Adds the reference names of the cache (both indexes). */
static void complete_refs(struct complete *c, struct ctx *ctx)
{
	const char *dir = ctx_cache_dir(ctx);
	struct layout *l = NULL;
	struct layout_ref *refs = NULL;
	struct err e = ERR_INIT;
	size_t n = 0, i;
	int w;

	if (!dir || layout_open(&l, dir, 0, &e) < 0)
		goto out;
	for (w = 0; w < 2; w++) {
		if (layout_index_list_in(&refs, &n, l, (enum layout_index)w, &e) < 0)
			continue;
		for (i = 0; i < n; i++)
			if (refs[i].name)
				complete_add(c, refs[i].name);
		layout_refs_free(refs, n);
		refs = NULL;
		n = 0;
	}
out:
	layout_free(l);
	err_clear(&e);
}

static void complete_names(struct complete *c, const struct cmd *table);

static void complete_value(struct complete *c, struct ctx *ctx, unsigned kind)
{
	c->want |= kind & (COMPLETE_FILES | COMPLETE_DIRS);
	if (kind & COMPLETE_REFS)
		complete_refs(c, ctx);
}

int complete_spec(struct ctx *ctx, const struct opt_spec *spec)
{
	struct complete *c = ctx->complete;
	const char *cur = complete_cur(c), *name;
	const struct opt *o;
	unsigned kind = 0;
	int n_ops, i;

	o = complete_value_of(c, spec, c->n - 1);
	if (o) {
		complete_value(c, ctx, complete_kind_of(o->argh));
		return EXIT_OK;
	}
	if (cur[0] == '-') {
		complete_spec_opts(c, spec);
		return EXIT_OK;
	}
	complete_operands(c, spec, &n_ops);
	name = ctx->cmd_name ? ctx->cmd_name : "";
	if (!strcmp(name, "help") && n_ops == 0) {
		complete_names(c, cmd_table);
		return EXIT_OK;
	}
	for (i = 0; spec->usage && spec->usage[i]; i++)
		kind |= complete_usage_kind(c, spec->usage[i], name, n_ops);
	complete_value(c, ctx, kind);
	return EXIT_OK;
}

static void complete_names(struct complete *c, const struct cmd *table)
{
	size_t i;

	for (i = 0; table[i].name; i++)
		if (table[i].summary && table[i].name[0] != '_')
			complete_add(c, table[i].name);
}

int complete_group(struct ctx *ctx, const struct opt_spec *spec, const struct cmd *subs)
{
	struct complete *c = ctx->complete;
	char *sub_argv[2] = { NULL, NULL };
	const struct cmd *sub;
	struct buf full = BUF_INIT;
	int first, n_ops, ret;

	first = complete_operands(c, spec, &n_ops);
	if (first < 0) {
		if (complete_value_of(c, spec, c->n - 1))
			return complete_spec(ctx, spec);
		if (complete_cur(c)[0] == '-')
			complete_spec_opts(c, spec);
		else
			complete_names(c, subs);
		return EXIT_OK;
	}
	sub = cmd_lookup(subs, c->words[first]);
	if (!sub)
		return EXIT_OK;
	c->pos = first + 1;
	sub_argv[0] = c->words[first];
	buf_addf(&full, "%s %s", ctx->cmd_name ? ctx->cmd_name : "", sub->name);
	if (buf_failed(&full)) {
		buf_release(&full);
		return EXIT_FAIL;
	}
	ret = cmd_run(sub, full.data, 1, sub_argv, ctx);
	buf_release(&full);
	return ret;
}

/* Applies "--cache DIR" and "--cache=DIR" among the words, so that refs
 * come from the cache the command line names. */
static void complete_globals(struct complete *c, struct ctx *ctx)
{
	int i;

	for (i = 0; i < c->n - 1; i++) {
		if (!strcmp(c->words[i], "--cache") && i + 1 < c->n - 1)
			ctx->cache_arg = c->words[i + 1];
		else if (!strncmp(c->words[i], "--cache=", 8))
			ctx->cache_arg = c->words[i] + 8;
	}
}

int cmd_complete(int argc, char **argv, struct ctx *ctx)
{
	static char empty[] = "";
	char *words_empty[1] = { empty };
	char *cmd_argv[2] = { NULL, NULL };
	struct complete c;
	struct opt_spec spec = CMD_SPEC(ctx, NULL, NULL);
	const struct opt main_opts[] = {
		OPT_FLAG(0, "version", NULL, "print hoist's version"),
		OPT_END(),
	};
	const struct cmd *cmd;
	int first, n_ops, ret = EXIT_OK;
	size_t i;

	memset(&c, 0, sizeof(c));
	strvec_init(&c.out);
	c.words = argc > 1 ? argv + 1 : words_empty;
	c.n = argc > 1 ? argc - 1 : 1;
	complete_globals(&c, ctx);
	ctx->complete = &c;
	spec.opts = main_opts;
	first = complete_operands(&c, &spec, &n_ops);
	if (first < 0) {
		if (complete_value_of(&c, &spec, c.n - 1))
			complete_spec(ctx, &spec);
		else if (complete_cur(&c)[0] == '-')
			complete_spec_opts(&c, &spec);
		else
			complete_names(&c, cmd_table);
	} else if ((cmd = cmd_lookup(cmd_table, c.words[first])) && cmd->fn != cmd_complete) {
		c.pos = first + 1;
		cmd_argv[0] = c.words[first];
		ret = cmd_run(cmd, cmd->name, 1, cmd_argv, ctx);
	}
	ctx->complete = NULL;
	for (i = 0; i < c.out.n; i++)
		printf("%s\n", c.out.v[i]);
	if (c.want & COMPLETE_FILES)
		puts(":files");
	else if (c.want & COMPLETE_DIRS)
		puts(":dirs");
	strvec_clear(&c.out);
	return ret;
}

/* --- the scripts ------------------------------------------------------------ */

static const char bash_script[] =
	"# bash completion for hoist; generated by `hoist completion bash`.\n"
	"# The candidates come from `hoist __complete WORD...` at run time.\n"
	"_hoist() {\n"
	"\tlocal cur prog words=() i w line out files=\n"
	"\t# Undo what COMP_WORDBREAKS split (bash-completion's\n"
	"\t# _get_comp_words_by_ref -n : does the same): refs contain ':', and\n"
	"\t# '--opt=value' is taken as '--opt value'.\n"
	"\tfor ((i = 0; i <= COMP_CWORD; i++)); do\n"
	"\t\tw=${COMP_WORDS[i]}\n"
	"\t\tif [[ $w == = ]] && ((i > 0)) && [[ ${COMP_WORDS[i-1]} == --* ]]; then\n"
	"\t\t\t((i == COMP_CWORD)) && words+=('')\n"
	"\t\telif ((${#words[@]} > 1)) && [[ $w == : || ${COMP_WORDS[i-1]} == : ]]; then\n"
	"\t\t\twords[${#words[@]}-1]+=$w\n"
	"\t\telse\n"
	"\t\t\twords+=(\"$w\")\n"
	"\t\tfi\n"
	"\tdone\n"
	"\tcur=${words[${#words[@]}-1]}\n"
	"\tprog=${words[0]}\n"
	"\t[[ $prog == \"~/\"* ]] && prog=$HOME/${prog#\"~/\"}\n"
	"\tCOMPREPLY=()\n"
	"\tout=$(\"$prog\" __complete \"${words[@]:1}\" 2>/dev/null) || return 0\n"
	"\twhile IFS= read -r line; do\n"
	"\t\tcase $line in\n"
	"\t\t:files) files=f ;;\n"
	"\t\t:dirs) files=d ;;\n"
	"\t\t'') ;;\n"
	"\t\t*) COMPREPLY+=(\"$line\") ;;\n"
	"\t\tesac\n"
	"\tdone <<<\"$out\"\n"
	"\t# When ':' split the word, bash replaces only the part after the last\n"
	"\t# ':': trim the rest from the candidates.\n"
	"\tif [[ $cur == *:* && $cur != \"${COMP_WORDS[COMP_CWORD]}\" ]]; then\n"
	"\t\tlocal pre=${cur%\"${cur##*:}\"}\n"
	"\t\tfor i in \"${!COMPREPLY[@]}\"; do COMPREPLY[i]=${COMPREPLY[i]#\"$pre\"}; done\n"
	"\tfi\n"
	"\tif [[ -n $files ]]; then\n"
	"\t\tcompopt -o filenames 2>/dev/null\n"
	"\t\tlocal IFS=$'\\n'\n"
	"\t\tCOMPREPLY+=($(compgen -$files -- \"$cur\"))\n"
	"\tfi\n"
	"\treturn 0\n"
	"}\n"
	"complete -o default -F _hoist hoist\n";

static const char zsh_script[] =
	"#compdef hoist\n"
	"# zsh completion for hoist; generated by `hoist completion zsh`.\n"
	"# The candidates come from `hoist __complete WORD...` at run time.\n"
	"_hoist() {\n"
	"\tlocal line files=\n"
	"\tlocal -a out cands\n"
	"\tout=(\"${(@f)$(${words[1]} __complete \"${(@)words[2,CURRENT]}\" 2>/dev/null)}\")\n"
	"\tfor line in \"${out[@]}\"; do\n"
	"\t\tcase $line in\n"
	"\t\t:files) files=f ;;\n"
	"\t\t:dirs) files=d ;;\n"
	"\t\t'') ;;\n"
	"\t\t*) cands+=(\"$line\") ;;\n"
	"\t\tesac\n"
	"\tdone\n"
	"\t(( ${#cands} )) && compadd -- \"${cands[@]}\"\n"
	"\tcase $files in\n"
	"\tf) _files ;;\n"
	"\td) _files -/ ;;\n"
	"\tesac\n"
	"\treturn 0\n"
	"}\n"
	"if [[ ${funcstack[1]} == _hoist ]]; then\n"
	"\t_hoist \"$@\"\n"
	"else\n"
	"\tcompdef _hoist hoist\n"
	"fi\n";

int cmd_completion(int argc, char **argv, struct ctx *ctx)
{
	static const char *const usage[] = { "hoist completion bash|zsh", NULL };
	const struct opt opts[] = { OPT_END() };
	struct opt_spec spec = CMD_SPEC(ctx, usage, opts);
	int rc;

	rc = cmd_parse_options(ctx, &spec, &argc, &argv);
	if (rc != OPT_CONTINUE)
		return rc;
	if (argc != 1)
		return opt_usage_error(&spec, argc ? "too many arguments" : "which shell?");
	if (!strcmp(argv[0], "bash"))
		fputs(bash_script, stdout);
	else if (!strcmp(argv[0], "zsh"))
		fputs(zsh_script, stdout);
	else
		return opt_usage_error(&spec, "'%s' is not a shell hoist completes (bash, zsh)",
				       argv[0]);
	return EXIT_OK;
}
