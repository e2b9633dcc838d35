# frozen_string_literal: true

require_relative "test_helper"
require_relative "toto_client"

# docs/ruby-rack.md: its config.ru block is examples/config.ru, which runs as written.
class RackDocsTest < Minitest::Test
  DOC = File.join(ROOT, "docs", "ruby-rack.md")
  CONFIG_RU = File.join(RUBY_DIR, "examples", "config.ru")

  def test_the_config_ru_block_is_the_file
    blocks = File.read(DOC).scan(/^```ruby\n(.*?)^```$/m).flatten
    assert_equal File.read(CONFIG_RU), blocks.first
  end

  def test_config_ru_runs
    app = Rack::Builder.parse_file(CONFIG_RU)
    app = app.first if app.is_a?(Array) # rack 2: [app, options]
    c = TotoTestClient.mock(app)
    r = c.login("alice", "s3cret", method: "account.create")
    assert_nil r.error
    refute_nil c.key
    assert_equal 1, c.call("counter.next").result
    r = c.request("GET", "/counter/next?by=5")
    assert_equal 6, r.result
    assert r.signed
    c.sign = false
    assert_equal 1008, c.call("counter.next").code
  end
end
