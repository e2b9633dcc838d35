# frozen_string_literal: true

require_relative "test_helper"

class ErrorsTest < Minitest::Test
  def header_codes
    File.read(header_path).scan(/TOTO_RESULT_([A-Z0-9_]+) = (\d+)/).to_h { |n, c| [n, c.to_i] }
  end

  def test_every_result_code_has_its_own_exception_class
    codes = header_codes
    assert_equal 0, codes.delete("OK")
    assert_operator codes.size, :>=, 22
    codes.each do |name, code|
      klass = TotoSession::Error::CODES[code]
      refute_nil klass, "no exception class for TOTO_RESULT_#{name} (#{code})"
      assert_operator klass, :<, TotoSession::Error
      assert_equal code, klass.code
      # The class name is the C name in CamelCase (HMAC kept upper case).
      expected = name.split("_").map(&:capitalize).join.sub("Hmac", "HMAC")
      assert_equal "TotoSession::#{expected}", klass.name
      error = TotoSession::Error.for_code(code, "details here")
      assert_instance_of klass, error
      assert_equal code, error.code
      assert_equal "details here", error.details
      assert_equal TotoSession.result_message(code), error.summary
      assert_includes error.message, "details here"
    end
    assert_equal codes.values.sort, TotoSession::Error::CODES.keys.sort
  end

  def test_toto_domain_codes_and_messages
    assert_equal 1008, TotoSession::InvalidHMAC.code
    assert_same TotoSession::InvalidHMAC, TotoSession::InvalidHmac
    assert_equal 1004, TotoSession::NotAuthorized.code
    assert_equal 1005, TotoSession::InvalidCredentials.code
    assert_equal 1006, TotoSession::UserIdExists.code
    assert_equal 1007, TotoSession::InvalidSessionId.code
    assert_equal 1010, TotoSession::InvalidUserId.code
    assert_equal "Invalid HMAC", TotoSession.result_message(1008)
    assert_equal "User ID already in use.", TotoSession.result_message(1006)
    assert_equal({ "code" => 1008, "value" => "Invalid HMAC" }, TotoSession::InvalidHMAC.new.to_toto)
    assert_equal "Invalid HMAC (1008)", TotoSession::InvalidHMAC.new.message
  end

  def test_unknown_code_gives_the_base_class
    error = TotoSession::Error.for_code(4242)
    assert_instance_of TotoSession::Error, error
    assert_equal 4242, error.code
    assert_equal "unknown result code", error.summary
    assert_kind_of StandardError, error
  end

  def test_details_come_from_the_toto_error_of_the_call
    error = assert_raises(TotoSession::InvalidJson) { TotoSession::Session.open(expires: 1e10) { |s| s.set_json(:x, "{nope") } }
    assert_equal 9, error.code
    refute_nil error.details
    refute_equal error.summary, error.details
    error = assert_raises(TotoSession::InvalidCbor) { TotoSession::Session.import("garbage") }
    assert_match(/CBOR|record/i, error.details)
  end

  def test_closed_error_is_an_invalid_handle
    assert_operator TotoSession::ClosedError, :<, TotoSession::InvalidHandle
    assert_equal 14, TotoSession::ClosedError.new.code
  end
end
